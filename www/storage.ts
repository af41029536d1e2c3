// Autosave to IndexedDB: the latest model (checkpoint bytes) and the settings it was trained with,
// so a reload can offer to resume. Two slots: each save moves the latest to `previous` and writes
// the new one as `latest` in one transaction (IndexedDB commits a transaction whole or not at all),
// so a crash mid-save, or a latest save that later fails its checksum, leaves a readable one.
// Storage that is missing (no IndexedDB, a private window) or full is an error the caller shows;
// nothing here throws past the caller's catch.
import type { Choice } from './protocol';

const DB = 'multigrid-ebm';
const STORE = 'autosave';
export const SLOTS = ['latest', 'previous'] as const;
export type Slot = (typeof SLOTS)[number];

export interface Saved {
  bytes: ArrayBuffer;
  iteration: number;
  /** The preset and seed the model came from, and its settings (the checkpoint holds them too). */
  settings: Pick<Choice, 'preset' | 'seed'>;
  savedAt: number;
}

/** Why storage cannot be used, in words for the page. */
export class StorageError extends Error {}

function describe(e: unknown): string {
  const name = e instanceof DOMException ? e.name : '';
  if (name === 'QuotaExceededError') return 'the browser’s storage for this page is full';
  if (name === 'InvalidStateError' || name === 'SecurityError') return 'this browser does not let the page store data (a private window?)';
  return e instanceof Error ? e.message : String(e);
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    if (typeof indexedDB === 'undefined' || !indexedDB) {
      reject(new StorageError('this browser gives the page no IndexedDB'));
      return;
    }
    let request: IDBOpenDBRequest;
    try {
      request = indexedDB.open(DB, 1);
    } catch (e) {
      reject(new StorageError(describe(e)));
      return;
    }
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(new StorageError(describe(request.error)));
  });
}

/** Run `work` in one transaction; resolves once the transaction has committed. */
async function transact<T>(mode: IDBTransactionMode, work: (store: IDBObjectStore) => Promise<T> | T): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      let result: T;
      const tx = db.transaction(STORE, mode);
      tx.oncomplete = () => resolve(result);
      tx.onabort = () => reject(new StorageError(describe(tx.error)));
      tx.onerror = () => reject(new StorageError(describe(tx.error)));
      Promise.resolve()
        .then(() => work(tx.objectStore(STORE)))
        .then((r) => (result = r))
        .catch((e) => {
          try {
            tx.abort();
          } catch {
            // already finished
          }
          reject(new StorageError(describe(e)));
        });
    });
  } finally {
    db.close();
  }
}

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

/** A stored record that has the shape of a save (another version's or another page's may not). */
function asSaved(value: unknown): Saved | null {
  const v = value as Partial<Saved> | undefined;
  const ok = !!v && v.bytes instanceof ArrayBuffer && typeof v.iteration === 'number' && typeof v.savedAt === 'number' && !!v.settings && typeof v.settings.preset === 'string';
  return ok ? (v as Saved) : null;
}

export const autosave = {
  /** Save as `latest`, keeping the one before as `previous`, atomically. */
  save: (saved: Saved) =>
    transact('readwrite', async (store) => {
      const latest = await request(store.get('latest'));
      if (latest !== undefined) store.put(latest, 'previous');
      store.put(saved, 'latest');
    }),
  /** What a slot holds: a save, `'foreign'` for a record that is not one, or undefined. */
  load: (slot: Slot) =>
    transact('readonly', async (store) => {
      const value = await request(store.get(slot));
      return value === undefined ? undefined : (asSaved(value) ?? ('foreign' as const));
    }),
  clear: () =>
    transact('readwrite', (store) => {
      for (const slot of SLOTS) store.delete(slot);
    }),
};
