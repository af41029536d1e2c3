// Time limits on the steps of start-up that wait on the browser (a thread pool, a GPU adapter or
// device, the first measured steps): a step that overruns gives way to what works, and says which.

/** How long each step may take, in seconds. */
export const LIMITS = {
  /** navigator.gpu.requestAdapter(). */
  adapter: 10,
  /** The threaded build's pool of Web Workers (it starts in well under a second). */
  threads: 10,
  /** A model on WebGPU: the device and the first kernels. */
  device: 90,
  /** The whole start of the model in its worker (the steps above, and the download, included). */
  start: 300,
  /** Measuring one backend in a worker of its own. */
  probe: 120,
  /** Reaching a `multigrid serve` server (through its relay), and each step of starting there. */
  remote: 30,
} as const;

/** A step that did not finish in time. */
export class TimeoutError extends Error {
  constructor(readonly step: string, seconds: number) {
    super(`${step} did not finish within ${seconds} s`);
    this.name = 'TimeoutError';
  }
}

/** `work`, or a TimeoutError naming `step` once `seconds` have passed. */
export function within<T>(work: Promise<T>, seconds: number, step: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(step, seconds)), seconds * 1000);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
