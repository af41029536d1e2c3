// The settings controls: filled from the model's configuration (the library's `Config`), read
// back as the page's `Choice`. The library checks the values (`Session::apply`), not this file.
import { NUMBERS } from './address';
import type { Choice, Config, Method } from './protocol';

function input(id: string): HTMLInputElement {
  return document.getElementById(id) as HTMLInputElement;
}

function select(id: string): HTMLSelectElement {
  return document.getElementById(id) as HTMLSelectElement;
}

/** The ids of the controls whose change applies a setting or makes a new model. */
export const SETTING_CONTROLS = ['preset', 'seed', 'method', ...NUMBERS, 'noise'] as const;

/** Show a model's configuration in the controls, with its preset and seed. */
export function fillControls(config: Config, choice: Pick<Choice, 'preset' | 'seed'>) {
  select('preset').value = choice.preset;
  input('seed').value = String(choice.seed);
  select('method').value = config.method;
  input('steps').value = String(config.langevin.steps);
  input('delta').value = String(config.langevin.delta);
  input('lr').value = String(Number(config.optimizer.lr.toPrecision(6)));
  input('batch').value = String(config.batch_size);
  input('noise').checked = config.langevin.noise;
  const { lr_half_life: halfLife, lr_constant_for: constantFor } = config.optimizer;
  input('lr').parentElement!.title = halfLife
    ? `Adam learning rate${constantFor ? ` for the first ${constantFor} iterations` : ' at the first iteration'}; ` +
      `it then halves every ${halfLife} iterations`
    : 'Adam learning rate (constant)';
}

/** What the controls show now: the preset, the seed and every setting they hold. */
export function currentChoice(): Choice {
  return {
    preset: select('preset').value,
    seed: Math.round(Number(input('seed').value)) || 1,
    overrides: {
      method: select('method').value as Method,
      steps: Math.max(1, Math.round(Number(input('steps').value))),
      delta: Number(input('delta').value),
      lr: Number(input('lr').value),
      batch: Math.max(1, Math.round(Number(input('batch').value))),
      noise: input('noise').checked,
    },
  };
}
