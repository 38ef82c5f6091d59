// ParleyClient: one signed-in device in the browser. Owns the API, the E2EE engine (keys in
// IndexedDB), the live connection and the local message store; the UI reads `state` and
// subscribes to changes. Every conversation message it sends is end-to-end encrypted.
import { Api, ApiError } from '../api/api';
import { HttpKeyDirectory, mapError } from '../api/directory';
import { type Frame, LiveConnection } from '../api/live';
import type { Group, Message, PresenceStatus, ToDevice, User } from '../api/types';
import { Engine, ENCRYPTION_E2EE_V1, type KeyChange } from '../engine/engine';
import { fromBase64, fromHex, fromUtf8, toBase64, toHex, utf8 } from '../protocol/bytes';
import { E2eeError } from '../protocol/errors';
import { MediaDecryptor, encryptMedia } from '../protocol/media';
import { sodiumReady, systemRandom } from '../protocol/primitives';
import { normalizeWords } from '../protocol/searchToken';
import { Db, type LocalMessage, type MediaDescriptor, type Thumbnail } from './db';
import { directConversationId, uuidV4, uuidV7 } from './ids';
import { contentTypeForMedia, decodePayload, encodePayload } from './payload';
import { type Session, deviceFor, rememberDevice, saveSession } from './session';
import { acquireTabLock } from './tabLock';

export interface ConvView {
  id: string;
  type: 'direct' | 'group';
  title: string;
  peerUserId?: string;
  groupId?: string;
  lastText: string;
  lastAt: number;
  lastSeq: number;
  readSeq: number;
  unread: number;
  member: boolean;
}

export interface Receipts {
  delivered: Record<string, number>; // user → up_to_seq
  read: Record<string, number>;
}

export interface Transfer {
  done: number;
  total: number;
  label: string;
}

export interface State {
  connected: boolean;
  connectionDetail: string;
  conversations: Map<string, ConvView>;
  users: Map<string, User>;
  presence: Map<string, PresenceStatus>;
  typing: Map<string, Map<string, number>>; // conversation → user → until (ms)
  receipts: Map<string, Receipts>;
  groups: Map<string, Group>; // by conversation id
  keyChanges: KeyChange[];
  transfers: Map<string, Transfer>; // by local id / media id
  version: number;
}

const PAGE = 40;
const displayText = (m: LocalMessage): string => {
  if (m.state === 'pending') return 'Waiting for the sender’s key…';
  if (m.state === 'failed') return 'Message could not be decrypted';
  if (m.media) return `${m.content_type === 'image' ? 'Photo' : m.content_type === 'video' ? 'Video' : 'File'}: ${m.media.file_name}`;
  return m.text;
};

export class ParleyClient {
  readonly api = new Api();
  db!: Db;
  engine!: Engine;
  live!: LiveConnection;
  state: State = {
    connected: false,
    connectionDetail: 'connecting',
    conversations: new Map(),
    users: new Map(),
    presence: new Map(),
    typing: new Map(),
    receipts: new Map(),
    groups: new Map(),
    keyChanges: [],
    transfers: new Map(),
    version: 0,
  };
  private listeners = new Set<() => void>();
  private messageListeners = new Set<(m: LocalMessage) => void>();
  private frames: Promise<void> = Promise.resolve();
  private lastTypingSent = 0;
  onSignedOut: () => void = () => {};

  private constructor(readonly session: Session) {
    this.api.tokens = { accessToken: session.accessToken, refreshToken: session.refreshToken };
    this.api.onTokens = (t) => {
      if (!t) {
        saveSession(null);
        this.stop();
        this.onSignedOut();
        return;
      }
      Object.assign(this.session, t);
      saveSession(this.session);
    };
  }

  get me() {
    return this.session;
  }

  // --- lifecycle -------------------------------------------------------------------------------

  static async signup(username: string, password: string, displayName: string): Promise<Session> {
    const api = new Api();
    await api.signup(username, password, displayName || undefined);
    return ParleyClient.login(username, password);
  }

  static async login(username: string, password: string): Promise<Session> {
    const api = new Api();
    const name = username.trim().toLowerCase();
    const device = deviceFor(name);
    let r;
    try {
      r = await api.login(name, password, deviceName(), device);
    } catch (e) {
      if (device && e instanceof ApiError && e.status === 401) r = await api.login(name, password, deviceName()); // that device was revoked
      else throw e;
    }
    rememberDevice(name, r.device_id);
    const s: Session = { userId: r.user_id, deviceId: r.device_id, username: name, accessToken: r.access_token, refreshToken: r.refresh_token };
    saveSession(s);
    return s;
  }

  /** Opens storage and takes the tab lock; null when another tab holds this account. */
  static async open(session: Session, waitForLock = false): Promise<ParleyClient | null> {
    if (!(await acquireTabLock(`parley-engine-${session.userId}`, waitForLock))) return null;
    await sodiumReady();
    const c = new ParleyClient(session);
    c.db = await Db.open(`parley-${session.userId}`);
    const storedDevice = await c.db.kvGet<string>('device_id');
    if (storedDevice && storedDevice !== session.deviceId) {
      // Another device registration of this user in this browser: its keys are not ours.
      c.db.close();
      indexedDB.deleteDatabase(`parley-${session.userId}`);
      c.db = await Db.open(`parley-${session.userId}`);
    }
    await c.db.kvSet('device_id', session.deviceId);
    const members = { members: (id: string) => c.conversationMembers(id) };
    c.engine = new Engine(c.db.stateStore(), new HttpKeyDirectory(c.api), members, session.userId, session.deviceId);
    return c;
  }

  async start(): Promise<void> {
    await this.engine.bootstrap();
    const saved = await this.db.kvGet<Array<[string, ConvView]>>('conversations');
    if (saved) this.state.conversations = new Map(saved);
    const rc = await this.db.kvGet<Array<[string, Receipts]>>('receipts');
    if (rc) this.state.receipts = new Map(rc);
    this.emit();
    this.live = new LiveConnection({
      url: async (stale) => {
        // Refresh only when needed: refresh tokens are single-use, and a refresh whose answer is
        // lost (network drop) would make the next one look like a reuse.
        if (stale || this.api.accessTokenExpiresWithin(60)) {
          await this.api.refresh().catch((e) => {
            if (e instanceof ApiError && e.status === 401) throw e;
          });
        }
        const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
        return `${proto}//${location.host}/v1/ws?access_token=${encodeURIComponent(this.api.tokens?.accessToken ?? '')}`;
      },
      onFrame: (f) => this.enqueueFrame(f),
      onState: (connected, detail) => {
        this.state.connected = connected;
        this.state.connectionDetail = detail;
        this.emit();
        if (connected) void this.onConnected();
      },
    });
    this.live.start();
    await this.refreshConversations().catch(() => undefined);
    setInterval(() => void this.engine.bootstrap().catch(() => undefined), 3600_000);
  }

  stop(): void {
    this.live?.stop();
  }

  async logout(): Promise<void> {
    await this.api.logout().catch(() => undefined);
    this.stop();
    saveSession(null);
  }

  // --- observation ---------------------------------------------------------------------------------

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  onMessage(fn: (m: LocalMessage) => void): () => void {
    this.messageListeners.add(fn);
    return () => this.messageListeners.delete(fn);
  }
  emit(): void {
    this.state = { ...this.state, version: this.state.version + 1 };
    for (const l of this.listeners) l();
  }
  private persistConversations(): void {
    void this.db.kvSet('conversations', [...this.state.conversations.entries()]);
  }

  // --- users ------------------------------------------------------------------------------------------

  async userById(id: string): Promise<User> {
    const known = this.state.users.get(id);
    if (known) return known;
    const u = await this.api.user(id).catch(() => ({ user_id: id, username: id.slice(0, 8), display_name: id.slice(0, 8) }) as User);
    this.state.users.set(id, u);
    this.emit();
    return u;
  }
  name(id: string): string {
    if (id === this.me.userId) return 'You';
    const u = this.state.users.get(id);
    if (!u) void this.userById(id);
    return u ? u.display_name || u.username : '…';
  }

  // --- conversations -------------------------------------------------------------------------------

  async refreshConversations(): Promise<void> {
    const r = await this.api.conversations();
    const ids: string[] = [];
    for (const c of r.conversations) {
      const prev = this.state.conversations.get(c.conversation_id);
      const view: ConvView = {
        id: c.conversation_id,
        type: c.type,
        title: c.title,
        peerUserId: c.peer_user_id,
        groupId: c.group_id,
        lastText: prev?.lastText ?? '',
        lastAt: c.last_activity_at ?? c.last_message?.created_at ?? prev?.lastAt ?? 0,
        lastSeq: c.last_seq,
        readSeq: c.read_seq,
        unread: c.unread_count,
        member: c.member !== false,
      };
      if (c.last_message && (!prev || prev.lastSeq < c.last_message.seq || !prev.lastText)) {
        const m = await this.processMessage(c.last_message, false);
        if (m) view.lastText = this.previewOf(m);
      }
      this.state.conversations.set(c.conversation_id, view);
      if (c.peer_user_id) ids.push(c.peer_user_id);
    }
    this.persistConversations();
    this.emit();
    await this.refreshPresence(ids);
  }

  async refreshPresence(ids: string[]): Promise<void> {
    if (!ids.length) return;
    const st = await this.api.getStatus([...new Set(ids)].slice(0, 200)).catch(() => null);
    for (const s of st?.statuses ?? []) this.state.presence.set(s.user_id, s);
    this.emit();
  }

  private previewOf(m: LocalMessage): string {
    if (m.system) return m.text;
    return (m.sender_id === this.me.userId ? 'You: ' : '') + displayText(m);
  }

  sortedConversations(): ConvView[] {
    return [...this.state.conversations.values()].sort((a, b) => b.lastAt - a.lastAt);
  }

  /** Opens (locally) the direct conversation with a username. */
  async startDirect(username: string): Promise<ConvView> {
    const u = await this.api.userByName(username.trim().toLowerCase()).catch((e) => {
      if (e instanceof ApiError && e.status === 404) throw new Error(`No user named “${username}”.`);
      throw e;
    });
    this.state.users.set(u.user_id, u);
    const id = directConversationId(this.me.userId, u.user_id);
    let c = this.state.conversations.get(id);
    if (!c) {
      c = { id, type: 'direct', title: u.display_name || u.username, peerUserId: u.user_id, lastText: '', lastAt: Date.now(), lastSeq: 0, readSeq: 0, unread: 0, member: true };
      this.state.conversations.set(id, c);
      this.persistConversations();
      this.emit();
    }
    return c;
  }

  async group(conversationId: string, refresh = false): Promise<Group | undefined> {
    const c = this.state.conversations.get(conversationId);
    if (!c?.groupId) return undefined;
    if (!refresh && this.state.groups.has(conversationId)) return this.state.groups.get(conversationId);
    const g = await this.api.group(c.groupId);
    this.rememberGroup(g);
    return g;
  }

  /**
   * The engine's ConversationMembers: a group conversation's members as the server lists them
   * now. Calls the API only, never the engine (the engine awaits this inside handleToDevice).
   */
  private async conversationMembers(conversationId: string): Promise<string[]> {
    let groupId = this.state.conversations.get(conversationId)?.groupId;
    if (!groupId) {
      // A group not listed yet here: its keys can arrive before its first message.
      const r = await this.api.conversations().catch(mapError);
      groupId = r.conversations.find((c) => c.conversation_id === conversationId)?.group_id;
    }
    if (!groupId) throw new E2eeError('not_found', 'no such group conversation');
    const g = await this.api.group(groupId).catch(mapError);
    return g.members.map((m) => m.user_id);
  }

  private rememberGroup(g: Group): void {
    this.state.groups.set(g.conversation_id, g);
    const c = this.state.conversations.get(g.conversation_id);
    const member = g.members.some((m) => m.user_id === this.me.userId);
    if (c) {
      c.title = g.name;
      c.member = member;
    }
    for (const m of g.members) void this.userById(m.user_id);
    this.emit();
  }

  // --- messages: local history --------------------------------------------------------------------

  async localMessages(conversationId: string, beforeSeq?: number): Promise<LocalMessage[]> {
    const local = await this.db.messages(conversationId, beforeSeq, PAGE);
    return local;
  }

  /** Older messages from the server (decrypting what can be), stored locally; returns whether more exist. */
  async loadOlder(conversationId: string, beforeSeq?: number): Promise<boolean> {
    const r = await this.api.history(conversationId, beforeSeq, PAGE);
    for (const m of r.messages) await this.processMessage(m, false);
    return r.has_more;
  }

  // --- receiving ------------------------------------------------------------------------------------

  private enqueueFrame(f: Frame): void {
    this.frames = this.frames.then(() => this.handleFrame(f)).catch((e) => console.error('frame failed', e));
  }

  private async onConnected(): Promise<void> {
    await this.refreshConversations().catch(() => undefined);
    await this.flushOutbox().catch(() => undefined);
  }

  private async handleFrame(f: Frame): Promise<void> {
    switch (f.type) {
      case 'to_device': {
        const t = f as unknown as ToDevice;
        await this.handleToDevice(t);
        // Only now, with its state committed (or the message found unusable), may the server
        // forget it: a tab closed before this point gets it again on the next connection.
        if (typeof t.id === 'number') this.live.send({ type: 'ack_to_device', up_to_id: t.id });
        await this.retryPending();
        break;
      }
      case 'message': {
        const m = (f.message ?? f) as Message;
        await this.processMessage(m, true);
        this.live.send({ type: 'mark_delivered', conversation_id: m.conversation_id, up_to_seq: m.seq });
        break;
      }
      case 'receipt': {
        const cid = String(f.conversation_id);
        const r = this.state.receipts.get(cid) ?? { delivered: {}, read: {} };
        const user = String(f.user_id);
        const seq = Number(f.up_to_seq);
        if (f.kind === 'read') {
          r.read[user] = Math.max(r.read[user] ?? 0, seq);
          r.delivered[user] = Math.max(r.delivered[user] ?? 0, seq);
        } else r.delivered[user] = Math.max(r.delivered[user] ?? 0, seq);
        this.state.receipts.set(cid, { ...r });
        void this.db.kvSet('receipts', [...this.state.receipts.entries()]);
        if (user === this.me.userId && f.kind === 'read') {
          const c = this.state.conversations.get(cid);
          if (c) {
            c.readSeq = Math.max(c.readSeq, seq);
            c.unread = Math.max(0, c.lastSeq - c.readSeq);
          }
        }
        this.emit();
        break;
      }
      case 'presence': {
        const p = f as unknown as PresenceStatus;
        this.state.presence.set(p.user_id, p);
        this.emit();
        break;
      }
      case 'typing': {
        const cid = String(f.conversation_id);
        const m = this.state.typing.get(cid) ?? new Map();
        m.set(String(f.user_id), Date.now() + 5000);
        this.state.typing.set(cid, m);
        this.emit();
        setTimeout(() => this.emit(), 5100);
        break;
      }
      case 'group': {
        const g = f.group as Group;
        if (!this.state.conversations.has(g.conversation_id)) await this.refreshConversations().catch(() => undefined);
        this.rememberGroup(g);
        break;
      }
      default:
        break;
    }
  }

  private async handleToDevice(t: ToDevice): Promise<void> {
    try {
      await this.engine.handleToDevice(t.sender_id, t.sender_device_id, t.body);
    } catch (e) {
      console.warn('to-device message dropped', e);
    }
    this.collectKeyChanges();
    if (t.sender_id !== this.me.userId) void this.engine.bootstrap().catch(() => undefined); // replenish prekeys
  }

  private collectKeyChanges(): void {
    const changes = this.engine.takeKeyChanges();
    if (changes.length) {
      this.state.keyChanges = [...this.state.keyChanges, ...changes];
      this.emit();
    }
  }

  private async retryPending(): Promise<void> {
    const pending = await this.db.allMessages((m) => m.state === 'pending');
    for (const p of pending) {
      const wire: Message = {
        message_id: p.message_id,
        conversation_id: p.conversation_id,
        seq: p.seq,
        sender_id: p.sender_id,
        sender_device_id: p.sender_device_id,
        created_at: p.created_at,
        content_type: p.content_type,
        encryption: ENCRYPTION_E2EE_V1,
        body: p.body ?? '',
        media_ids: p.media_ids ?? [],
      };
      await this.processMessage(wire, true, true);
    }
  }

  private processing: Promise<unknown> = Promise.resolve();

  /**
   * Decrypts (or recognises) and stores one message; returns the stored record. Serialized: the
   * same message can arrive at once from the socket, a history page and the conversation list,
   * and only the first decrypt may consume its key.
   */
  processMessage(m: Message, live: boolean, retry = false): Promise<LocalMessage | null> {
    return this.serialized(() => this.processMessageNow(m, live, retry));
  }

  /** Runs `fn` after every earlier message store update (see processMessage). */
  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.processing.then(fn);
    this.processing = run.catch(() => undefined);
    return run;
  }

  private async processMessageNow(m: Message, live: boolean, retry: boolean): Promise<LocalMessage | null> {
    const existing = await this.db.message(m.message_id);
    if (existing && (existing.state === 'ok' || existing.state === 'failed' || (existing.state === 'pending' && !retry))) return existing;
    if (existing?.state === 'outbox') return existing;
    const base: LocalMessage = {
      message_id: m.message_id,
      conversation_id: m.conversation_id,
      seq: m.seq,
      sender_id: m.sender_id,
      sender_device_id: m.sender_device_id,
      created_at: m.created_at,
      content_type: m.content_type,
      text: '',
      state: 'ok',
      media_ids: m.media_ids,
    };
    let words: string[] = [];
    if (m.content_type === 'system') {
      base.system = true;
      base.text = this.systemText(m.body);
      if (live) void this.group(m.conversation_id, true).catch(() => undefined);
    } else if (m.encryption !== ENCRYPTION_E2EE_V1) {
      base.text = m.body;
      base.plain = true; // the server (and anyone who could read it there) saw this text
      words = normalizeWords(m.body);
    } else if (m.sender_id === this.me.userId && m.sender_device_id === this.me.deviceId) {
      base.text = 'Sent from this browser (the text is not kept on the server)';
    } else {
      try {
        const pt = await this.engine.decryptMessage(m.conversation_id, m.sender_id, m.sender_device_id, m.body);
        const p = decodePayload(fromUtf8(pt));
        base.text = p.text;
        base.media = p.media;
        base.thumbnail = p.thumbnail;
        words = normalizeWords(p.text);
      } catch (e) {
        if (e instanceof E2eeError && e.code === 'not_found') {
          base.state = 'pending';
          base.body = m.body;
        } else if (e instanceof E2eeError && e.code === 'conflict' && (await this.db.message(m.message_id))?.state === 'ok') {
          return (await this.db.message(m.message_id))!;
        } else {
          base.state = 'failed';
          base.error = e instanceof Error ? e.message : String(e);
        }
      }
      this.collectKeyChanges();
    }
    await this.db.saveMessage(base, words);
    if (live) this.state.typing.get(m.conversation_id)?.delete(m.sender_id); // they sent it: no longer typing
    this.noteMessage(base, live && !existing);
    for (const l of this.messageListeners) l(base);
    return base;
  }

  private noteMessage(m: LocalMessage, fresh: boolean): void {
    let c = this.state.conversations.get(m.conversation_id);
    if (!c) {
      void this.refreshConversations().catch(() => undefined);
      return;
    }
    if (m.seq >= c.lastSeq) {
      c.lastSeq = m.seq;
      c.lastText = this.previewOf(m);
      c.lastAt = Math.max(c.lastAt, m.created_at);
      if (fresh && m.sender_id !== this.me.userId) c.unread = Math.max(0, c.lastSeq - c.readSeq);
    }
    this.persistConversations();
    this.emit();
  }

  private systemText(body: string): string {
    let e: Record<string, string>;
    try {
      e = JSON.parse(body);
    } catch {
      return body;
    }
    const who = (id?: string) => (id ? this.name(id) : 'someone');
    switch (e.event) {
      case 'group_created':
        return `${who(e.actor)} created the group “${e.name}”`;
      case 'member_added':
        return `${who(e.actor)} added ${who(e.user_id)}`;
      case 'member_removed':
        return `${who(e.actor)} removed ${who(e.user_id)}`;
      case 'member_left':
        return `${who(e.user_id)} left`;
      case 'role_changed':
        return `${who(e.user_id)} is now ${e.role}`;
      case 'group_renamed':
        return `${who(e.actor)} renamed the group to “${e.name}”`;
      default:
        return 'Group updated';
    }
  }

  markRead(conversationId: string): void {
    const c = this.state.conversations.get(conversationId);
    if (!c || c.lastSeq <= 0 || (c.readSeq >= c.lastSeq && c.unread === 0)) return;
    c.readSeq = c.lastSeq;
    c.unread = 0;
    const seq = c.lastSeq;
    if (!this.live.send({ type: 'mark_read', conversation_id: conversationId, up_to_seq: seq })) void this.api.markRead(conversationId, seq).catch(() => undefined);
    this.persistConversations();
    this.emit();
  }

  sendTyping(conversationId: string): void {
    if (Date.now() - this.lastTypingSent < 3000) return;
    this.lastTypingSent = Date.now();
    this.live.send({ type: 'typing', conversation_id: conversationId });
  }

  typingIn(conversationId: string): string[] {
    const m = this.state.typing.get(conversationId);
    if (!m) return [];
    const now = Date.now();
    return [...m.entries()].filter(([u, t]) => t > now && u !== this.me.userId).map(([u]) => u);
  }

  /** ✓ sent, ✓✓ delivered to every other member, read when every other member read. */
  tickFor(m: LocalMessage): 'sent' | 'delivered' | 'read' | 'outbox' {
    if (m.state === 'outbox') return 'outbox';
    const c = this.state.conversations.get(m.conversation_id);
    const r = this.state.receipts.get(m.conversation_id);
    if (!c || !r) return 'sent';
    const others = c.type === 'direct' ? (c.peerUserId ? [c.peerUserId] : []) : (this.state.groups.get(c.id)?.members ?? []).map((x) => x.user_id).filter((u) => u !== this.me.userId);
    if (!others.length) return 'sent';
    if (others.every((u) => (r.read[u] ?? 0) >= m.seq)) return 'read';
    if (others.every((u) => (r.delivered[u] ?? 0) >= m.seq)) return 'delivered';
    return 'sent';
  }

  /** Receipts of the newest own message after a reload (receipt frames only cover live changes). */
  async refreshReceipts(conversationId: string, m: LocalMessage): Promise<void> {
    const st = await this.api.messageStatus(m.message_id).catch(() => null);
    if (!st) return;
    const r = this.state.receipts.get(conversationId) ?? { delivered: {}, read: {} };
    for (const x of st.receipts) {
      if (x.delivered_at) r.delivered[x.user_id] = Math.max(r.delivered[x.user_id] ?? 0, m.seq);
      if (x.read_at) r.read[x.user_id] = Math.max(r.read[x.user_id] ?? 0, m.seq);
    }
    this.state.receipts.set(conversationId, { ...r });
    this.emit();
  }

  // --- sending -------------------------------------------------------------------------------------

  private async membersOf(c: ConvView): Promise<string[]> {
    if (c.type === 'direct') return [this.me.userId, c.peerUserId!];
    const g = await this.group(c.id, true); // the membership now: removed members lose the key
    return g ? g.members.map((m) => m.user_id) : [];
  }

  async sendText(conversationId: string, text: string): Promise<void> {
    await this.sendPayload(conversationId, { text }, 'text', []);
  }

  private async sendPayload(conversationId: string, payload: { text: string; media?: MediaDescriptor; thumbnail?: Thumbnail }, contentType: string, mediaIds: string[]): Promise<void> {
    const c = this.state.conversations.get(conversationId);
    if (!c) throw new Error('Unknown conversation');
    if (!c.member) throw new Error('You are no longer a member of this group.');
    const local: LocalMessage = {
      message_id: `local-${uuidV4()}`,
      conversation_id: conversationId,
      seq: Number.MAX_SAFE_INTEGER - 1,
      sender_id: this.me.userId,
      sender_device_id: this.me.deviceId,
      created_at: Date.now(),
      content_type: contentType,
      text: payload.text,
      media: payload.media,
      thumbnail: payload.thumbnail,
      state: 'outbox',
      payload: encodePayload(payload),
      client_msg_id: uuidV7(),
      media_ids: mediaIds,
    };
    await this.db.saveMessage(local);
    for (const l of this.messageListeners) l(local);
    await this.sendOutboxEntry(local, c);
  }

  /** Encrypts an outbox entry once (the ciphertext is stored before it is sent, so a retry resends the same bytes). */
  private async sealOutboxEntry(local: LocalMessage, c: ConvView): Promise<boolean> {
    if (local.body) return true;
    try {
      const members = await this.membersOf(c);
      local.body = await this.engine.encryptMessage(c.id, members, utf8(local.payload ?? encodePayload({ text: local.text })));
      local.search_tokens = await this.engine.searchTokens(c.id, local.text);
    } catch (e) {
      if ((e instanceof E2eeError && e.code === 'unavailable') || (e instanceof ApiError && e.status === 0)) return false; // offline: stays queued
      await this.db.deleteMessage(local.message_id);
      for (const l of this.messageListeners) l({ ...local, state: 'failed', error: (e as Error).message });
      throw e;
    } finally {
      this.collectKeyChanges();
    }
    local.payload = undefined;
    await this.db.saveMessage(local);
    return true;
  }

  private async sendOutboxEntry(local: LocalMessage, c: ConvView): Promise<void> {
    if (!(await this.sealOutboxEntry(local, c))) return;
    const req: Record<string, unknown> = {
      client_msg_id: local.client_msg_id,
      body: local.body,
      content_type: local.content_type,
      encryption: ENCRYPTION_E2EE_V1,
      media_ids: local.media_ids ?? [],
    };
    if (local.search_tokens?.length) req.search_tokens = local.search_tokens;
    if (c.type === 'direct' && c.lastSeq === 0) req.to_user_id = c.peerUserId;
    else req.conversation_id = c.id;
    let ack: { message_id: string; conversation_id: string; seq: number; created_at: number };
    try {
      ack = await this.api.sendMessage(req);
    } catch (e) {
      if (e instanceof ApiError && e.status === 0) return; // offline: stays in the outbox
      await this.db.deleteMessage(local.message_id);
      for (const l of this.messageListeners) l({ ...local, state: 'failed', error: (e as Error).message });
      throw e;
    }
    if (ack.conversation_id !== local.conversation_id) throw new Error('The server put the message in another conversation');
    const newConversation = c.lastSeq === 0;
    const sent: LocalMessage = { ...local, message_id: ack.message_id, seq: ack.seq, created_at: ack.created_at, state: 'ok', body: undefined, payload: undefined };
    await this.serialized(async () => {
      await this.db.deleteMessage(local.message_id);
      await this.db.saveMessage(sent, normalizeWords(sent.text));
    });
    if (newConversation) void this.refreshConversations().catch(() => undefined); // title, presence
    for (const l of this.messageListeners) l({ ...sent, client_msg_id: local.message_id });
    this.noteMessage(sent, false);
    c.readSeq = Math.max(c.readSeq, ack.seq);
  }

  async flushOutbox(): Promise<void> {
    const queued = (await this.db.allMessages((m) => m.state === 'outbox')).sort((a, b) => a.created_at - b.created_at);
    for (const m of queued) {
      const c = this.state.conversations.get(m.conversation_id);
      if (c) await this.sendOutboxEntry(m, c);
    }
  }

  /** Encrypts a file (with a thumbnail for images), uploads it with progress, sends the descriptor. */
  async sendFile(conversationId: string, file: File): Promise<void> {
    const id = uuidV4();
    const setT = (t: Transfer | null) => {
      if (t) this.state.transfers.set(id, t);
      else this.state.transfers.delete(id);
      this.emit();
    };
    try {
      const mediaType = file.type || 'application/octet-stream';
      const thumbnail = mediaType.startsWith('image/') ? await makeThumbnail(file).catch(() => undefined) : undefined;
      setT({ done: 0, total: file.size, label: `Encrypting ${file.name}` });
      const enc = await encryptMedia({ size: file.size, read: async (s, e) => new Uint8Array(await file.slice(s, e).arrayBuffer()) }, systemRandom, (d, t) =>
        setT({ done: d, total: t, label: `Encrypting ${file.name}` }),
      );
      const blob = new Blob(enc.chunks as BlobPart[], { type: 'application/octet-stream' });
      const up = await this.api.upload(blob, (d, t) => setT({ done: d, total: t, label: `Uploading ${file.name}` }));
      const media: MediaDescriptor = { media_id: up.media_id, key: toBase64(enc.key), sha256: toHex(enc.sha256), size: file.size, media_type: mediaType, file_name: file.name };
      await this.sendPayload(conversationId, { text: file.name, media, thumbnail }, contentTypeForMedia(mediaType), [up.media_id]);
    } finally {
      setT(null);
    }
  }

  /** Downloads and decrypts a file message's blob (hash and size checked); returns a Blob. */
  async fetchMedia(media: MediaDescriptor, onProgress?: (done: number, total: number) => void): Promise<Blob> {
    const key = fromBase64(media.key);
    if (!key) throw new Error('Bad media key');
    const d = new MediaDecryptor(key, media.sha256 ? fromHex(media.sha256) : undefined, media.size);
    await this.api.download(media.media_id, (chunk) => d.push(chunk), onProgress);
    return new Blob(d.finish() as BlobPart[], { type: media.media_type });
  }

  // --- groups --------------------------------------------------------------------------------------

  async createGroup(name: string, usernames: string[]): Promise<Group> {
    const ids: string[] = [];
    for (const u of usernames.map((x) => x.trim()).filter(Boolean)) {
      const user = await this.api.userByName(u.toLowerCase()).catch(() => {
        throw new Error(`No user named “${u}”.`);
      });
      this.state.users.set(user.user_id, user);
      ids.push(user.user_id);
    }
    const g = await this.api.createGroup(name, ids);
    await this.refreshConversations();
    this.rememberGroup(g);
    return g;
  }
  async addMember(convId: string, username: string, role = 'member'): Promise<void> {
    const g = (await this.group(convId))!;
    const user = await this.api.userByName(username.trim().toLowerCase()).catch(() => {
      throw new Error(`No user named “${username}”.`);
    });
    this.rememberGroup(await this.api.addMember(g.group_id, user.user_id, role));
  }
  async removeMember(convId: string, userId: string): Promise<void> {
    const g = (await this.group(convId))!;
    this.rememberGroup(await this.api.removeMember(g.group_id, userId));
  }
  async setRole(convId: string, userId: string, role: string): Promise<void> {
    const g = (await this.group(convId))!;
    this.rememberGroup(await this.api.updateGroup(g.group_id, { roles: { [userId]: role } }));
  }
  async rename(convId: string, name: string): Promise<void> {
    const g = (await this.group(convId))!;
    this.rememberGroup(await this.api.updateGroup(g.group_id, { name }));
  }
  async leave(convId: string): Promise<void> {
    const g = (await this.group(convId))!;
    await this.api.removeMember(g.group_id, this.me.userId);
    const c = this.state.conversations.get(convId);
    if (c) c.member = false;
    this.state.groups.delete(convId);
    this.emit();
  }

  // --- search (local index over decrypted messages) -------------------------------------------------

  /** Every word must match; the last also as a prefix (like the server's search). Newest first. */
  async search(query: string, conversationId?: string): Promise<LocalMessage[]> {
    const words = normalizeWords(query);
    if (!words.length) return [];
    let hits = new Set<string>();
    for (let i = 0; i < words.length; i++) {
      const prefix = i === words.length - 1 && [...words[i]].length >= 2;
      const found = await this.db.wordMatches(words[i], prefix);
      hits = i === 0 ? found : new Set([...hits].filter((x) => found.has(x)));
      if (!hits.size) return [];
    }
    const out: LocalMessage[] = [];
    for (const id of hits) {
      const m = await this.db.message(id);
      if (m && m.state === 'ok' && (!conversationId || m.conversation_id === conversationId)) out.push(m);
    }
    return out.sort((a, b) => b.created_at - a.created_at).slice(0, 100);
  }

  // --- keys --------------------------------------------------------------------------------------

  safetyNumber(peerUserId: string): Promise<string> {
    return this.engine.safetyNumber(peerUserId);
  }
  async isVerified(peerUserId: string, number: string): Promise<boolean> {
    return (await this.db.kvGet<string>(`verified:${peerUserId}`)) === number;
  }
  async setVerified(peerUserId: string, number: string | null): Promise<void> {
    await this.db.kvSet(`verified:${peerUserId}`, number);
    this.state.keyChanges = this.state.keyChanges.filter((k) => k.userId !== peerUserId);
    this.emit();
  }
}

function deviceName(): string {
  const ua = navigator.userAgent;
  const browser = /Firefox\//.test(ua) ? 'Firefox' : /Edg\//.test(ua) ? 'Edge' : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  return `${browser} (web)`;
}

/** A JPEG thumbnail (≤ 320 px) made in the browser, sent inside the encrypted message. */
async function makeThumbnail(file: File): Promise<Thumbnail> {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, 320 / Math.max(bitmap.width, bitmap.height));
  const w = Math.max(1, Math.round(bitmap.width * scale));
  const h = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  canvas.getContext('2d')!.drawImage(bitmap, 0, 0, w, h);
  bitmap.close();
  const blob: Blob = await new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('thumbnail'))), 'image/jpeg', 0.7));
  return { media_type: 'image/jpeg', data: toBase64(new Uint8Array(await blob.arrayBuffer())), width: w, height: h };
}

