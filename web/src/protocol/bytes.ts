// Byte helpers shared by the protocol code: hex, canonical standard base64, UTF-8, and the
// big-endian ByteWriter/ByteReader of the wire formats (twin of src/sdk/crypto/wire.h: a reader
// never reads past its input, every variable-length field has an explicit bound).

export type Bytes = Uint8Array;

const HEX = '0123456789abcdef';

export function toHex(b: Bytes): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX[b[i] >> 4] + HEX[b[i] & 15];
  return s;
}

export function fromHex(h: string): Bytes {
  if (h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h)) throw new Error('bad hex');
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.substr(i * 2, 2), 16);
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = (() => {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < 64; i++) t[B64.charCodeAt(i)] = i;
  return t;
})();

/** Standard base64 with padding (RFC 4648 §4). */
export function toBase64(b: Bytes): string {
  let out = '';
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const n = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
  }
  const rest = b.length - i;
  if (rest === 1) {
    const n = b[i] << 16;
    out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] + '==';
  } else if (rest === 2) {
    const n = (b[i] << 16) | (b[i + 1] << 8);
    out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + '=';
  }
  return out;
}

/** null unless `text` is canonical standard base64 (padding required, no whitespace, no stray bits). */
export function fromBase64(text: string): Bytes | null {
  if (text.length % 4 !== 0) return null;
  let pad = 0;
  if (text.endsWith('==')) pad = 2;
  else if (text.endsWith('=')) pad = 1;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const last = i + 4 === text.length;
    const v = [0, 0, 0, 0];
    for (let j = 0; j < 4; j++) {
      const c = text.charCodeAt(i + j);
      if (last && j >= 4 - pad) {
        if (c !== 61) return null;
        continue;
      }
      const x = c < 128 ? B64_INDEX[c] : -1;
      if (x < 0) return null;
      v[j] = x;
    }
    const n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    if (last && pad === 2 && (n & 0xffff) !== 0) return null;  // stray bits
    if (last && pad === 1 && (n & 0xff) !== 0) return null;
    out[o++] = (n >> 16) & 255;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
export const utf8 = (s: string): Bytes => enc.encode(s);
export const fromUtf8 = (b: Bytes): string => dec.decode(b);

export function concat(...parts: Bytes[]): Bytes {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function equal(a: Bytes, b: Bytes): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/** Bytewise comparison (as std::string's operator<). */
export function compare(a: Bytes, b: Bytes): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export class ByteWriter {
  private parts: number[] = [];
  private chunks: Bytes[] = [];
  private flush(): void {
    if (this.parts.length) {
      this.chunks.push(Uint8Array.from(this.parts));
      this.parts = [];
    }
  }
  u8(v: number): this {
    this.parts.push(v & 255);
    return this;
  }
  u16(v: number): this {
    return this.u8(v >>> 8).u8(v);
  }
  u32(v: number): this {
    return this.u16(v >>> 16).u16(v & 0xffff);
  }
  /** u64 from a non-negative safe integer (ids ≤ 2^53−1). */
  u64(v: number | bigint): this {
    const b = BigInt(v);
    return this.u32(Number((b >> 32n) & 0xffffffffn)).u32(Number(b & 0xffffffffn));
  }
  raw(b: Bytes): this {
    this.flush();
    this.chunks.push(b);
    return this;
  }
  str16(b: Bytes): this {
    return this.u16(b.length).raw(b);
  }
  str32(b: Bytes): this {
    return this.u32(b.length).raw(b);
  }
  take(): Bytes {
    this.flush();
    return concat(...this.chunks);
  }
}

export class ByteReader {
  private pos = 0;
  private good = true;
  constructor(private readonly input: Bytes) {}
  get ok(): boolean {
    return this.good;
  }
  atEnd(): boolean {
    return this.good && this.pos === this.input.length;
  }
  remaining(): number {
    return this.input.length - this.pos;
  }
  private need(n: number): boolean {
    if (!this.good || this.input.length - this.pos < n) this.good = false;
    return this.good;
  }
  u8(): number {
    return this.need(1) ? this.input[this.pos++] : 0;
  }
  u16(): number {
    const h = this.u8();
    return (h << 8) | this.u8();
  }
  u32(): number {
    const h = this.u16();
    return h * 65536 + this.u16();
  }
  /** u64 as a number; values above 2^53−1 fail the reader. */
  u64(): number {
    const h = this.u32();
    const l = this.u32();
    if (h > 0x1fffff) {
      this.good = false;
      return 0;
    }
    return h * 4294967296 + l;
  }
  raw(n: number): Bytes {
    if (!this.need(n)) return new Uint8Array(0);
    const out = this.input.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  rest(): Bytes {
    return this.raw(this.remaining());
  }
  str16(max: number): Bytes {
    return this.bounded(this.u16(), max);
  }
  str32(max: number): Bytes {
    return this.bounded(this.u32(), max);
  }
  fail(): void {
    this.good = false;
  }
  private bounded(n: number, max: number): Bytes {
    if (n > max) this.good = false;
    return this.good ? this.raw(n) : new Uint8Array(0);
  }
}
