// ApiClient: typed calls for the Parley HTTP API with single-flight token refresh.
import type { Conversation, DeviceInfo, Group, KeysDevice, LoginResult, Message, PresenceStatus, ToDevice, Upload, User } from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface Tokens {
  accessToken: string;
  refreshToken: string;
}

export class Api {
  tokens: Tokens | null = null;
  onTokens: (t: Tokens | null) => void = () => {};
  private refreshing: Promise<void> | null = null;

  constructor(readonly base = '') {}

  private async raw(method: string, path: string, body?: unknown, auth = true): Promise<Response> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (auth && this.tokens) headers.Authorization = `Bearer ${this.tokens.accessToken}`;
    try {
      return await fetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError(0, 'unavailable', 'Cannot reach the server');
    }
  }

  async call<T>(method: string, path: string, body?: unknown, auth = true): Promise<T> {
    let res = await this.raw(method, path, body, auth);
    if (res.status === 401 && auth && this.tokens) {
      await this.refresh();
      res = await this.raw(method, path, body, auth);
    }
    return this.parse<T>(res);
  }

  private async parse<T>(res: Response): Promise<T> {
    if (res.status === 204 || res.status === 202) {
      const t = await res.text();
      return (t ? JSON.parse(t) : undefined) as T;
    }
    const text = await res.text();
    let data: unknown = undefined;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    if (!res.ok) {
      const err = (data as { error?: { code: string; message: string } } | undefined)?.error;
      throw new ApiError(res.status, err?.code ?? 'internal', err?.message ?? `HTTP ${res.status}`);
    }
    return data as T;
  }

  /** Whether the access token (a JWT) expires within `seconds` (true when unreadable). */
  accessTokenExpiresWithin(seconds: number): boolean {
    const t = this.tokens?.accessToken;
    if (!t) return true;
    try {
      const payload = JSON.parse(atob(t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
      return typeof payload.exp !== 'number' || payload.exp * 1000 - Date.now() < seconds * 1000;
    } catch {
      return true;
    }
  }

  /** Single-flight refresh; on failure the session is over (tokens cleared). */
  refresh(): Promise<void> {
    if (!this.refreshing) {
      this.refreshing = (async () => {
        const rt = this.tokens?.refreshToken;
        if (!rt) throw new ApiError(401, 'unauthenticated', 'Signed out');
        const res = await this.raw('POST', '/v1/refresh-token', { refresh_token: rt }, false);
        if (res.status === 401) {
          this.tokens = null;
          this.onTokens(null);
          throw new ApiError(401, 'unauthenticated', 'Your session ended. Please sign in again.');
        }
        const r = await this.parse<{ access_token: string; refresh_token: string }>(res);
        this.tokens = { accessToken: r.access_token, refreshToken: r.refresh_token };
        this.onTokens(this.tokens);
      })().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  // --- auth ---
  signup = (username: string, password: string, display_name?: string) => this.call<User>('POST', '/v1/signup', { username, password, display_name }, false);
  login = (username: string, password: string, device_name: string, device_id?: string) =>
    this.call<LoginResult>('POST', '/v1/login', { username, password, device_name, device_id }, false);
  logout = () => this.call<void>('POST', '/v1/logout');
  devices = () => this.call<{ devices: DeviceInfo[] }>('GET', '/v1/devices');
  revokeDevice = (id: string) => this.call<void>('DELETE', `/v1/devices/${encodeURIComponent(id)}`);
  user = (id: string) => this.call<User>('GET', `/v1/users/${encodeURIComponent(id)}`);
  userByName = (name: string) => this.call<User>('GET', `/v1/users?username=${encodeURIComponent(name)}`);

  // --- keys ---
  putKeys = (body: unknown) => this.call<void>('PUT', '/v1/keys', body);
  keyCount = () => this.call<{ one_time_prekeys: number }>('GET', '/v1/keys/count');
  listKeys = (userId: string) => this.call<{ devices: KeysDevice[] }>('GET', `/v1/keys/${encodeURIComponent(userId)}?claim=false`);
  claimKeys = (userId: string, deviceId: string) => this.call<{ devices: KeysDevice[] }>('GET', `/v1/keys/${encodeURIComponent(userId)}?device_id=${encodeURIComponent(deviceId)}`);
  sendToDevice = (messages: Record<string, Record<string, string>>) => this.call<{ queued: number }>('POST', '/v1/send-to-device', { messages });

  // --- chat ---
  sendMessage = (body: Record<string, unknown>) => this.call<{ message_id: string; conversation_id: string; seq: number; created_at: number }>('POST', '/v1/send-message', body);
  getMessages = (after?: string) => this.call<{ messages: Message[]; to_device: ToDevice[]; cursor: string; has_more: boolean }>('GET', `/v1/get-messages?limit=200${after ? `&after=${encodeURIComponent(after)}` : ''}`);
  history = (conversationId: string, beforeSeq?: number, limit = 50) =>
    this.call<{ messages: Message[]; has_more: boolean }>('GET', `/v1/get-chat-history?conversation_id=${conversationId}&limit=${limit}${beforeSeq ? `&before_seq=${beforeSeq}` : ''}`);
  conversations = () => this.call<{ conversations: Conversation[] }>('GET', '/v1/conversations?limit=200');
  markDelivered = (conversation_id: string, up_to_seq: number) => this.call<void>('POST', '/v1/mark-delivered', { conversation_id, up_to_seq });
  markRead = (conversation_id: string, up_to_seq: number) => this.call<void>('POST', '/v1/mark-read', { conversation_id, up_to_seq });
  messageStatus = (id: string) => this.call<{ status: string; receipts: { user_id: string; delivered_at: number | null; read_at: number | null }[] }>('GET', `/v1/message-status?message_id=${id}`);

  // --- presence ---
  getStatus = (ids: string[]) => this.call<{ statuses: PresenceStatus[] }>('GET', `/v1/get-status?user_ids=${ids.map(encodeURIComponent).join(',')}`);
  updateStatus = (status: string, text?: string) => this.call<void>('POST', '/v1/update-status', { status, text });

  // --- groups ---
  createGroup = (name: string, member_ids: string[]) => this.call<Group>('POST', '/v1/create-group', { name, member_ids });
  addMember = (group_id: string, user_id: string, role?: string) => this.call<Group>('POST', '/v1/add-member', { group_id, user_id, role });
  removeMember = (group_id: string, user_id: string) => this.call<Group>('POST', '/v1/remove-member', { group_id, user_id });
  updateGroup = (group_id: string, changes: { name?: string; roles?: Record<string, string> }) => this.call<Group>('POST', '/v1/update-group', { group_id, ...changes });
  group = (id: string) => this.call<Group>('GET', `/v1/groups/${id}`);

  // --- media ---
  /** Uploads an encrypted blob with progress (XHR: fetch has no upload progress). */
  upload(blob: Blob, onProgress?: (done: number, total: number) => void, retried = false): Promise<Upload> {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', `${this.base}/v1/upload`);
      xhr.setRequestHeader('Content-Type', 'application/octet-stream');
      if (this.tokens) xhr.setRequestHeader('Authorization', `Bearer ${this.tokens.accessToken}`);
      xhr.upload.onprogress = (e) => onProgress?.(e.loaded, e.total || blob.size);
      xhr.onerror = () => reject(new ApiError(0, 'unavailable', 'Upload failed: cannot reach the server'));
      xhr.onload = () => {
        if (xhr.status === 401 && !retried) {
          this.refresh().then(() => this.upload(blob, onProgress, true).then(resolve, reject), reject);
          return;
        }
        let data: { error?: { code: string; message: string } } & Upload;
        try {
          data = JSON.parse(xhr.responseText);
        } catch {
          reject(new ApiError(xhr.status, 'internal', 'Bad upload answer'));
          return;
        }
        if (xhr.status >= 300) reject(new ApiError(xhr.status, data.error?.code ?? 'internal', data.error?.message ?? 'Upload failed'));
        else resolve(data);
      };
      xhr.send(blob);
    });
  }

  /** Downloads a blob, streaming, with progress. */
  async download(mediaId: string, onChunk: (chunk: Uint8Array) => void, onProgress?: (done: number, total: number) => void): Promise<void> {
    let res = await this.raw('GET', `/v1/download/${mediaId}`);
    if (res.status === 401) {
      await this.refresh();
      res = await this.raw('GET', `/v1/download/${mediaId}`);
    }
    if (!res.ok || !res.body) {
      await this.parse(res);
      throw new ApiError(res.status, 'internal', 'Download failed');
    }
    const total = Number(res.headers.get('Content-Length') ?? 0);
    const reader = res.body.getReader();
    let done = 0;
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      done += r.value.length;
      onChunk(r.value);
      onProgress?.(done, total);
    }
  }
}
