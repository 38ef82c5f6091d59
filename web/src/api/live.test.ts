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
  close(code = 1006): void {
    if (this.closed) return;
    this.closed = true;
    this.readyState = 3;
    this.onclose?.({ code });
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
    vi.useRealTimers();
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

  it('refreshes the token before reconnecting when the server closed for its expiry (4002)', async () => {
    vi.useFakeTimers();
    const asked: boolean[] = [];
    const live = new LiveConnection({
      url: async (refresh: boolean) => {
        asked.push(refresh);
        return 'ws://x/' + asked.length;
      },
      onFrame: () => {},
      onState: () => {},
    });
    // Runs the clock until the connection has opened its n-th socket (its retry delay is random).
    const socket = async (n: number) => {
      for (let ms = 0; FakeSocket.all.length < n && ms < 60000; ms += 50) {
        await vi.advanceTimersByTimeAsync(50);
      }
      return FakeSocket.all[n - 1];
    };
    live.start();
    (await socket(1)).ready();
    FakeSocket.all[0].close(4002);
    (await socket(2)).ready();
    FakeSocket.all[1].close(1006); // a plain drop after that: no refresh needed
    await socket(3);
    expect(asked).toEqual([false, true, false]);
    live.stop();
  });

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
