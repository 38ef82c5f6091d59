// IndexedDB, one database per account (`parley-<user_id>`): the engine's secret state (e2ee),
// decrypted messages, conversations, a local word index for search, and small key/values.
import type { StateStore, StateWrite } from '../engine/ports';
import type { Bytes } from '../protocol/bytes';

export interface LocalMessage {
  message_id: string;
  conversation_id: string;
  seq: number;
  sender_id: string;
  sender_device_id: string;
  created_at: number;
  content_type: string;
  text: string;
  media?: MediaDescriptor;
  thumbnail?: Thumbnail;
  system?: boolean;
  /** Sent without end-to-end encryption (`encryption: "none"`): shown marked as such. */
  plain?: boolean;
  state: 'ok' | 'pending' | 'failed' | 'outbox';
  error?: string;
  body?: string; // kept while pending (waiting for a sender key) or in the outbox
  payload?: string; // outbox entries written offline: encrypted when they are sent
  client_msg_id?: string;
  media_ids?: string[];
  search_tokens?: string[];
}

export interface MediaDescriptor {
  media_id: string;
  key: string; // base64
  sha256: string; // hex, of the encrypted blob
  size: number;
  media_type: string;
  file_name: string;
}

export interface Thumbnail {
  media_type: string;
  data: string; // base64
  width: number;
  height: number;
}

const STORES = ['e2ee', 'messages', 'kv', 'words'] as const;

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('transaction aborted'));
  });
}

export class Db {
  private constructor(private readonly db: IDBDatabase) {}

  static open(name: string): Promise<Db> {
    return new Promise((resolve, reject) => {
      const r = indexedDB.open(name, 1);
      r.onupgradeneeded = () => {
        const db = r.result;
        db.createObjectStore('e2ee'); // key [kind, id] → Uint8Array
        const m = db.createObjectStore('messages', { keyPath: 'message_id' });
        m.createIndex('conv_seq', ['conversation_id', 'seq']);
        db.createObjectStore('kv'); // string → any
        db.createObjectStore('words'); // [word, message_id] → conversation_id
      };
      r.onsuccess = () => resolve(new Db(r.result));
      r.onerror = () => reject(r.error);
    });
  }

  close(): void {
    this.db.close();
  }

  async get<T>(store: (typeof STORES)[number], key: IDBValidKey): Promise<T | undefined> {
    return req(this.db.transaction(store).objectStore(store).get(key));
  }

  async put(store: (typeof STORES)[number], value: unknown, key?: IDBValidKey): Promise<void> {
    const tx = this.db.transaction(store, 'readwrite');
    tx.objectStore(store).put(value, key);
    return done(tx);
  }

  async kvGet<T>(key: string): Promise<T | undefined> {
    return this.get<T>('kv', key);
  }
  kvSet(key: string, value: unknown): Promise<void> {
    return this.put('kv', value, key);
  }

  // --- messages ---
  message(id: string): Promise<LocalMessage | undefined> {
    return this.get<LocalMessage>('messages', id);
  }

  /** Stores a message and its words (for local search) in one transaction. */
  async saveMessage(m: LocalMessage, words: string[] = []): Promise<void> {
    const tx = this.db.transaction(['messages', 'words'], 'readwrite');
    tx.objectStore('messages').put(m);
    for (const w of words) tx.objectStore('words').put(m.conversation_id, [w, m.message_id]);
    return done(tx);
  }

  async deleteMessage(id: string): Promise<void> {
    const tx = this.db.transaction('messages', 'readwrite');
    tx.objectStore('messages').delete(id);
    return done(tx);
  }

  /** Messages of a conversation with seq < beforeSeq, newest `limit`, returned oldest first. */
  async messages(conversationId: string, beforeSeq = Number.MAX_SAFE_INTEGER, limit = 50): Promise<LocalMessage[]> {
    const idx = this.db.transaction('messages').objectStore('messages').index('conv_seq');
    const range = IDBKeyRange.bound([conversationId, -Infinity], [conversationId, beforeSeq], false, true);
    const out: LocalMessage[] = [];
    return new Promise((resolve, reject) => {
      const c = idx.openCursor(range, 'prev');
      c.onsuccess = () => {
        const cur = c.result;
        if (!cur || out.length >= limit) {
          resolve(out.reverse());
          return;
        }
        out.push(cur.value as LocalMessage);
        cur.continue();
      };
      c.onerror = () => reject(c.error);
    });
  }

  async allMessages(filter: (m: LocalMessage) => boolean): Promise<LocalMessage[]> {
    const all = await req(this.db.transaction('messages').objectStore('messages').getAll());
    return (all as LocalMessage[]).filter(filter);
  }

  /** message ids whose words include `word` exactly, or as a prefix when `prefix`. */
  async wordMatches(word: string, prefix: boolean): Promise<Set<string>> {
    const range = prefix ? IDBKeyRange.bound([word, ''], [word + '\uffff', '\uffff']) : IDBKeyRange.bound([word, ''], [word, '\uffff']);
    const keys = await req(this.db.transaction('words').objectStore('words').getAllKeys(range));
    return new Set(keys.map((k) => (k as string[])[1]));
  }

  // --- the engine's StateStore ---
  stateStore(): StateStore {
    const db = this.db;
    return {
      get: async (kind, id) => ((await req(db.transaction('e2ee').objectStore('e2ee').get([kind, id]))) as Bytes | undefined) ?? null,
      list: async (kind) => {
        const s = db.transaction('e2ee').objectStore('e2ee');
        const range = IDBKeyRange.bound([kind, ''], [kind, '\uffff']);
        const [keys, values] = await Promise.all([req(s.getAllKeys(range)), req(s.getAll(range))]);
        return keys.map((k, i) => [(k as string[])[1], values[i] as Bytes] as [string, Bytes]);
      },
      commit: async (writes: StateWrite[]) => {
        const tx = db.transaction('e2ee', 'readwrite', { durability: 'strict' });
        const s = tx.objectStore('e2ee');
        for (const w of writes) {
          if (w.value) s.put(w.value, [w.kind, w.id]);
          else s.delete([w.kind, w.id]);
        }
        return done(tx);
      },
    };
  }
}
