// Ids the client must compute itself (twin of src/common/ids.cc).
export { directConversationId } from '../protocol/ids';

export function uuidV4(): string {
  return crypto.randomUUID();
}

// A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then a 12-bit counter that keeps ids of one
// millisecond in order (as src/common/ids.cc does), then random bits. Ids made in a row sort
// in that order, so the server's (device, client_msg_id) index grows at one end.
let lastMs = 0;
let counter = 0;
export function uuidV7(now: number = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    counter = 0;
  } else if (++counter > 0xfff) {
    lastMs += 1; // borrow the next millisecond rather than wrap
    counter = 0;
  }
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  let t = lastMs;
  for (let i = 5; i >= 0; i--) {
    b[i] = t % 256;
    t = Math.floor(t / 256);
  }
  b[6] = 0x70 | (counter >> 8);
  b[7] = counter & 0xff;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
