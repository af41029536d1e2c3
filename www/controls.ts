// The settings controls, made from one table (SETTINGS): each is a setting of the library's
// `Overrides`, with how the page shows it and where the model's `Config` holds it. The address
// bar, the controls and the requests all read the table; the library checks the values
// (`Session::apply`), not this file. (The preset and the seed, which make a new model, are
// written in index.html.)
import type { Choice, Config, Overrides } from './protocol';

type Kind = { type: 'integer'; min: number } | { type: 'number'; min: number; step: string } | { type: 'switch' } | { type: 'choice'; options: [string, string][] };

interface Setting {
  key: keyof Overrides & ('method' | 'steps' | 'delta' | 'lr' | 'batch' | 'noise');
  label: string;
  kind: Kind;
  /** Its value in a model's configuration. */
  read: (c: Config) => number | boolean | string;
  /** What the control says when hovered (from the model's configuration, where it depends on it). */
  title?: (c: Config | null) => string;
}

export const SETTINGS: Setting[] = [
  {
    key: 'method',
    label: 'method',
    kind: { type: 'choice', options: [['multigrid', 'multi-grid'], ['cd', 'CD'], ['pcd', 'persistent CD']] },
    read: (c) => c.method,
  },
  { key: 'steps', label: 'T', kind: { type: 'integer', min: 1 }, read: (c) => c.langevin.steps, title: () => 'Langevin steps per grid' },
  { key: 'delta', label: 'δ', kind: { type: 'number', min: 0.01, step: '0.05' }, read: (c) => c.langevin.delta, title: () => 'Langevin step size' },
  {
    key: 'lr',
    label: 'lr',
    kind: { type: 'number', min: 0, step: 'any' },
    read: (c) => Number(c.optimizer.lr.toPrecision(6)),
    title: (c) => {
      const { lr_half_life: halfLife, lr_constant_for: constantFor } = c?.optimizer ?? {};
      return halfLife
        ? `Adam learning rate${constantFor ? ` for the first ${constantFor} iterations` : ' at the first iteration'}; it then halves every ${halfLife} iterations`
        : 'Adam learning rate (constant)';
    },
  },
  { key: 'batch', label: 'batch', kind: { type: 'integer', min: 1 }, read: (c) => c.batch_size },
  { key: 'noise', label: 'noise', kind: { type: 'switch' }, read: (c) => c.langevin.noise },
];

function input(id: string): HTMLInputElement {
  return document.getElementById(id) as HTMLInputElement;
}

function select(id: string): HTMLSelectElement {
  return document.getElementById(id) as HTMLSelectElement;
}

/** The ids of the controls whose change applies a setting or makes a new model. */
export const SETTING_CONTROLS = ['preset', 'seed', ...SETTINGS.map((s) => s.key)];

/** Make the settings' controls, in the place index.html keeps for them. */
export function makeSettingControls() {
  const place = document.getElementById('setting-controls')!;
  for (const s of SETTINGS) {
    const label = document.createElement('label');
    let control: HTMLInputElement | HTMLSelectElement;
    if (s.kind.type === 'choice') {
      control = document.createElement('select');
      for (const [value, text] of s.kind.options) control.append(new Option(text, value));
    } else {
      control = document.createElement('input');
      control.type = s.kind.type === 'switch' ? 'checkbox' : 'number';
      if (s.kind.type === 'integer') [control.min, control.step] = [String(s.kind.min), '1'];
      if (s.kind.type === 'number') [control.min, control.step] = [String(s.kind.min), s.kind.step];
    }
    control.id = s.key;
    if (s.kind.type === 'switch') {
      label.className = 'check';
      label.append(control, ` ${s.label}`);
    } else {
      label.append(`${s.label} `, control);
    }
    label.title = s.title?.(null) ?? '';
    place.append(label);
  }
}

/** A setting's value from the text of the address bar (undefined when it is not one). */
export function parseSetting(s: Setting, text: string): Overrides[Setting['key']] | undefined {
  switch (s.kind.type) {
    case 'switch':
      return text === 'on' ? true : text === 'off' ? false : undefined;
    case 'choice':
      return s.kind.options.some(([value]) => value === text) ? (text as Overrides['method']) : undefined;
    default:
      return text !== '' && Number.isFinite(Number(text)) ? Number(text) : undefined;
  }
}

/** A setting's value as the address bar writes it. */
export function formatSetting(s: Setting, value: NonNullable<Overrides[Setting['key']]>): string {
  return s.kind.type === 'switch' ? (value ? 'on' : 'off') : String(value);
}

/** Show a model's configuration in the controls, with its preset and seed. */
export function fillControls(config: Config, choice: Pick<Choice, 'preset' | 'seed'>) {
  select('preset').value = choice.preset;
  input('seed').value = String(choice.seed);
  for (const s of SETTINGS) {
    const value = s.read(config);
    if (s.kind.type === 'switch') input(s.key).checked = value as boolean;
    else (document.getElementById(s.key) as HTMLInputElement | HTMLSelectElement).value = String(value);
    if (s.title) input(s.key).parentElement!.title = s.title(config);
  }
}

/** What the controls show now: the preset, the seed and every setting they hold. */
export function currentChoice(): Choice {
  const overrides: Overrides = {};
  for (const s of SETTINGS) {
    const control = document.getElementById(s.key) as HTMLInputElement | HTMLSelectElement;
    const value =
      s.kind.type === 'switch'
        ? (control as HTMLInputElement).checked
        : s.kind.type === 'choice'
          ? control.value
          : s.kind.type === 'integer'
            ? Math.max(s.kind.min, Math.round(Number(control.value)))
            : Number(control.value);
    (overrides as Record<string, unknown>)[s.key] = value;
  }
  return { preset: select('preset').value, seed: Math.round(Number(input('seed').value)) || 1, overrides };
}
