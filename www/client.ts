// The page's side of the worker: typed request → promise of the typed reply.
import type { Envelope, Replies, Reply, Request } from './protocol';

export class WorkerClient {
  private worker: Worker;
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: never) => void; reject: (e: Error) => void }>();
  /** Called when the worker itself dies (a trap in wasm, out of memory): every pending call fails. */
  onCrash: (message: string) => void = () => {};
  /** Called with each step of start-up the worker reaches. */
  onProgress: (step: string) => void = () => {};
  /** Called when a step of start-up overruns its time limit (and the worker has not answered). */
  onOverrun: (step: string, seconds: number) => void = () => {};
  /** The last step of start-up the worker said it reached. */
  step = 'starting the worker';
  private overrun: ReturnType<typeof setTimeout> | undefined;

  constructor() {
    this.worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
    this.worker.onmessage = (event: MessageEvent<Reply | { progress: string; limit: number | null }>) => {
      clearTimeout(this.overrun);
      if ('progress' in event.data) {
        const { progress: step, limit } = event.data;
        this.step = step;
        this.onProgress(step);
        // A second of grace: the worker's own limit, where it can keep one, speaks first.
        if (limit !== null) this.overrun = setTimeout(() => this.onOverrun(step, limit), limit * 1000 + 1000);
        return;
      }
      const reply = event.data;
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id);
      if (reply.ok) waiting.resolve(reply.result as never);
      else {
        const error = new Error(reply.error);
        error.name = reply.kind;
        waiting.reject(error);
      }
    };
    this.worker.onerror = (event) => {
      const message = event.message || 'the worker stopped';
      for (const { reject } of this.pending.values()) reject(new Error(message));
      this.pending.clear();
      this.onCrash(message);
    };
  }

  call<K extends Request['kind']>(request: Extract<Request, { kind: K }>, transfer: Transferable[] = []): Promise<Replies[K]> {
    const id = this.nextId++;
    return new Promise<Replies[K]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: never) => void, reject });
      const envelope: Envelope = { id, request };
      this.worker.postMessage(envelope, transfer);
    });
  }

  terminate() {
    clearTimeout(this.overrun);
    this.worker.terminate();
    for (const { reject } of this.pending.values()) reject(new Error('the worker was restarted'));
    this.pending.clear();
  }
}
