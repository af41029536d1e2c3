// Autosave to IndexedDB: the latest model (checkpoint bytes) and the settings it was trained with,
// so a reload can offer to resume.
import type { Settings } from './protocol';

const DB = 'multigrid-ebm';
const STORE = 'autosave';
const KEY = 'latest';

export interface Saved {
  bytes: ArrayBuffer;
  iteration: number;
  settings: Settings;
  savedAt: number;
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function transact<T>(mode: IDBTransactionMode, work: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const request = work(db.transaction(STORE, mode).objectStore(STORE));
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  } finally {
    db.close();
  }
}

export const autosave = {
  save: (saved: Saved) => transact('readwrite', (s) => s.put(saved, KEY)).then(() => undefined),
  load: () => transact<Saved | undefined>('readonly', (s) => s.get(KEY)).catch(() => undefined),
  clear: () => transact('readwrite', (s) => s.delete(KEY)).then(() => undefined),
};
