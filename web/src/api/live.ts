// The /v1/ws connection: JSON frames, acks by ref, reconnect with exponential back-off + jitter.
export type Frame = { type: string; [k: string]: unknown };

export interface LiveOptions {
  /** The URL (with a valid access token) for an attempt; `stale` when the last attempt never got ready. */
  url: (stale: boolean) => Promise<string>;
  onFrame: (f: Frame) => void;
  onState: (connected: boolean, detail: string) => void;
}

export class LiveConnection {
  private ws: WebSocket | null = null;
  private stopped = false;
  private attempt = 0;
  private lastFailedEarly = false;
  // An attempt is between its start and its socket (fetching the URL): a second one must not
  // start beside it, and going offline meanwhile must stop it.
  private connecting = false;
  private offlineSince = 0; // bumped by every 'offline' event
  private timer: ReturnType<typeof setTimeout> | null = null;
  private nextRef = 1;
  private readonly pending = new Map<string, { resolve: (f: Frame) => void; reject: (e: Error) => void }>();
  connected = false;

  constructor(private readonly opts: LiveOptions) {}

  start(): void {
    this.stopped = false;
    void this.connect();
    window.addEventListener('online', this.onOnline);
    window.addEventListener('offline', this.onOffline);
  }

  stop(): void {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOffline);
    if (this.timer) clearTimeout(this.timer);
    this.ws?.close(1000);
    this.ws = null;
  }

  /** The browser lost its network: drop the socket now rather than wait for a dead TCP timeout. */
  private onOffline = () => {
    this.offlineSince++;
    this.ws?.close();
  };

  private onOnline = () => {
    if (!this.connected && !this.connecting && !this.ws) {
      this.attempt = 0;
      if (this.timer) clearTimeout(this.timer);
      void this.connect();
    }
  };

  private async connect(): Promise<void> {
    if (this.stopped || this.connecting) return;
    this.timer = null;
    this.connecting = true;
    const offline = this.offlineSince;
    let url: string;
    try {
      url = await this.opts.url(this.lastFailedEarly);
    } catch (e) {
      this.connecting = false;
      this.scheduleRetry(String((e as Error).message ?? e));
      return;
    }
    this.connecting = false;
    if (this.stopped) return;
    if (this.offlineSince !== offline) {
      // The network went away while the URL was fetched: this attempt would outlive it.
      this.scheduleRetry('offline');
      return;
    }
    const ws = new WebSocket(url);
    this.ws = ws;
    let ready = false;
    // A handshake that neither succeeds nor fails (a half-open network) is abandoned after 10 s.
    const handshake = setTimeout(() => {
      if (!ready && this.ws === ws) ws.close();
    }, 10000);
    ws.onmessage = (ev) => {
      let f: Frame;
      try {
        f = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      if (f.type === 'ready') {
        ready = true;
        clearTimeout(handshake);
        this.lastFailedEarly = false;
        this.attempt = 0;
        this.connected = true;
        this.opts.onState(true, 'connected');
      }
      const ref = typeof f.ref === 'string' ? f.ref : undefined;
      if (ref && (f.type === 'ack' || f.type === 'error' || f.type === 'pong') && this.pending.has(ref)) {
        const p = this.pending.get(ref)!;
        this.pending.delete(ref);
        if (f.type === 'error') p.reject(new Error((f.error as { message?: string })?.message ?? 'error'));
        else p.resolve(f);
        return;
      }
      this.opts.onFrame(f);
    };
    ws.onclose = (ev) => {
      clearTimeout(handshake);
      if (this.ws !== ws) return;
      this.ws = null;
      // A 401 at the upgrade, or the server's 4002 (the token expired): refresh the token first.
      if (!ready || ev.code === 4002) this.lastFailedEarly = true;
      this.connected = false;
      for (const p of this.pending.values()) p.reject(new Error('disconnected'));
      this.pending.clear();
      this.scheduleRetry(ev.code === 4001 ? 'device revoked' : 'disconnected');
    };
  }

  private scheduleRetry(detail: string): void {
    console.debug(`live: ${detail}, retry #${this.attempt}`);
    this.opts.onState(false, detail);
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const base = Math.min(30000, 500 * 2 ** this.attempt++);
    this.timer = setTimeout(() => void this.connect(), base / 2 + Math.random() * (base / 2));
  }

  send(frame: Frame): boolean {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || !this.connected) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Sends a frame with a ref and waits for its ack (rejects when not connected). */
  request(frame: Frame, timeoutMs = 10000): Promise<Frame> {
    const ref = `r${this.nextRef++}`;
    return new Promise((resolve, reject) => {
      if (!this.send({ ...frame, ref })) {
        reject(new Error('not connected'));
        return;
      }
      const t = setTimeout(() => {
        this.pending.delete(ref);
        reject(new Error('timeout'));
      }, timeoutMs);
      this.pending.set(ref, {
        resolve: (f) => {
          clearTimeout(t);
          resolve(f);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
    });
  }
}
