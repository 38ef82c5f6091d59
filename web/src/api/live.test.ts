import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LiveConnection } from './live';

// A WebSocket that only records what the connection does with it.
class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  onmessage: ((ev: { data: string }) => void) | null = null;
  onclose: ((ev: { code: number }) => void) | null = null;
  closed = false;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.readyState = 3;
    this.onclose?.({ code: 1006 });
  }
  ready(): void {
    this.readyState = 1;
    this.onmessage?.({ data: JSON.stringify({ type: 'ready' }) });
  }
  send(): void {}
}

describe('LiveConnection', () => {
  beforeEach(() => {
    FakeSocket.all = [];
    vi.stubGlobal('window', new EventTarget());
    vi.stubGlobal('WebSocket', Object.assign(FakeSocket, { OPEN: 1 }));
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  // The URL of an attempt resolves when the test says so (a token refresh in flight).
  function deferredUrls() {
    const waiting: Array<(u: string) => void> = [];
    return {
      url: () => new Promise<string>((resolve) => waiting.push(resolve)),
      resolveNext: async (u: string) => {
        while (!waiting.length) await new Promise((r) => setTimeout(r, 0));
        waiting.shift()!(u);
        await new Promise((r) => setTimeout(r, 0));
      },
      pending: () => waiting.length,
    };
  }

  it('starts no second attempt beside one still fetching its URL', async () => {
    const urls = deferredUrls();
    const states: boolean[] = [];
    const live = new LiveConnection({ url: urls.url, onFrame: () => {}, onState: (c) => states.push(c) });
    live.start();
    window.dispatchEvent(new Event('online'));
    window.dispatchEvent(new Event('online'));
    await new Promise((r) => setTimeout(r, 0));
    expect(urls.pending()).toBe(1);
    await urls.resolveNext('ws://x/1');
    expect(FakeSocket.all.length).toBe(1);
    FakeSocket.all[0].ready();
    expect(live.connected).toBe(true);
    live.stop();
  });

  it('drops an attempt when the network goes away while it fetches its URL', async () => {
    const urls = deferredUrls();
    const states: Array<[boolean, string]> = [];
    const live = new LiveConnection({ url: urls.url, onFrame: () => {}, onState: (c, d) => states.push([c, d]) });
    live.start();
    window.dispatchEvent(new Event('offline'));
    await urls.resolveNext('ws://x/1');
    expect(FakeSocket.all.length).toBe(0); // no socket opened after the network went away
    expect(live.connected).toBe(false);
    expect(states.at(-1)).toEqual([false, 'offline']);
    // Back online: a new attempt, which connects.
    window.dispatchEvent(new Event('online'));
    await urls.resolveNext('ws://x/2');
    expect(FakeSocket.all.length).toBe(1);
    FakeSocket.all[0].ready();
    expect(live.connected).toBe(true);
    window.dispatchEvent(new Event('offline'));
    expect(FakeSocket.all[0].closed).toBe(true);
    expect(live.connected).toBe(false);
    live.stop();
  });
});
