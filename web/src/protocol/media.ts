// Media encryption: docs/protocol.md §7; twin of src/sdk/crypto/media.cc. A file is encrypted
// with crypto_secretstream_xchacha20poly1305 in 64 KiB chunks, one chunk in memory at a time.
import { type Bytes, ByteReader, ByteWriter, concat, equal, fromUtf8, utf8 } from './bytes';
import { fail } from './errors';
import { type RandomFn, sodium } from './primitives';

export const MEDIA_CHUNK_BYTES = 64 * 1024;
export const CHUNK_OVERHEAD = 17;
export const STREAM_HEADER_BYTES = 24;
export const MAX_MEDIA_NAME_BYTES = 1024;
const MEDIA_INFO_VERSION = 1;

export interface MediaInfo {
  key: Bytes;
  sha256: Bytes; // of the encrypted blob
  size: number; // plaintext bytes
  mediaType: string;
  fileName: string;
}

export function encodeMediaInfo(m: MediaInfo): Bytes {
  return new ByteWriter().u8(MEDIA_INFO_VERSION).raw(m.key).raw(m.sha256).u64(m.size).str16(utf8(m.mediaType)).str16(utf8(m.fileName)).take();
}

export function decodeMediaInfo(b: Bytes): MediaInfo {
  const r = new ByteReader(b);
  if (r.u8() !== MEDIA_INFO_VERSION) fail('invalid_argument', 'media info: version');
  const m = { key: r.raw(32), sha256: r.raw(32), size: r.u64(), mediaType: fromUtf8(r.str16(255)), fileName: fromUtf8(r.str16(MAX_MEDIA_NAME_BYTES)) };
  if (!r.atEnd()) fail('invalid_argument', 'media info: malformed');
  return m;
}

/** Anything that hands out plaintext slices: a Blob/File in the browser, or bytes. */
export interface Source {
  size: number;
  read(start: number, end: number): Promise<Bytes>;
}

export function bytesSource(b: Bytes): Source {
  return { size: b.length, read: async (s, e) => b.subarray(s, e) };
}

export interface MediaEncrypted {
  key: Bytes;
  sha256: Bytes;
  plaintextSize: number;
  ciphertextSize: number;
  chunks: Bytes[]; // the blob, header first
}

/** Encrypts `src` chunk by chunk; `onProgress(doneBytes, total)` after each chunk. */
export async function encryptMedia(
  src: Source,
  random: RandomFn,
  onProgress?: (done: number, total: number) => void,
  key?: Bytes,
): Promise<MediaEncrypted> {
  const k = key ?? random(32);
  if (k.length !== 32) fail('invalid_argument', 'media: bad key length');
  const push = sodium.crypto_secretstream_xchacha20poly1305_init_push(k);
  const hash = sodium.crypto_hash_sha256_init();
  const chunks: Bytes[] = [push.header];
  sodium.crypto_hash_sha256_update(hash, push.header);
  let ciphertextSize = push.header.length;
  const count = src.size === 0 ? 1 : Math.ceil(src.size / MEDIA_CHUNK_BYTES);
  for (let i = 0; i < count; i++) {
    const start = i * MEDIA_CHUNK_BYTES;
    const pt = await src.read(start, Math.min(src.size, start + MEDIA_CHUNK_BYTES));
    const last = i === count - 1;
    const tag = last ? sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL : sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
    const ct = sodium.crypto_secretstream_xchacha20poly1305_push(push.state, pt, null, tag);
    sodium.crypto_hash_sha256_update(hash, ct);
    chunks.push(ct);
    ciphertextSize += ct.length;
    onProgress?.(Math.min(src.size, start + pt.length), src.size);
  }
  return { key: k, sha256: sodium.crypto_hash_sha256_final(hash), plaintextSize: src.size, ciphertextSize, chunks };
}

/**
 * Incremental decryptor: push() the blob as it arrives, then finish(). Rejects a missing final
 * chunk, bytes after it, a short non-final chunk, other tags, a failed chunk, a blob whose SHA-256
 * or plaintext size differs from the descriptor's.
 */
export class MediaDecryptor {
  private buf: Bytes = new Uint8Array(0);
  private state: unknown = null;
  private readonly hash = sodium.crypto_hash_sha256_init();
  private done = false;
  private size = 0;
  readonly out: Bytes[] = [];
  constructor(
    private readonly key: Bytes,
    private readonly expectedSha256?: Bytes,
    private readonly expectedSize?: number,
  ) {
    if (key.length !== 32) fail('invalid_argument', 'media: bad key length');
  }

  push(data: Bytes): void {
    if (this.done && data.length) fail('invalid_argument', 'media: data after the final chunk');
    this.buf = this.buf.length ? concat(this.buf, data) : data.slice();
    if (!this.state) {
      if (this.buf.length < STREAM_HEADER_BYTES) return;
      const header = this.buf.subarray(0, STREAM_HEADER_BYTES);
      sodium.crypto_hash_sha256_update(this.hash, header);
      try {
        this.state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(header, this.key);
      } catch {
        fail('invalid_argument', 'media: bad header');
      }
      this.buf = this.buf.slice(STREAM_HEADER_BYTES);
    }
    const full = MEDIA_CHUNK_BYTES + CHUNK_OVERHEAD;
    while (!this.done && this.buf.length >= full) {
      this.pull(this.buf.subarray(0, full));
      this.buf = this.buf.slice(full);
    }
    if (this.done && this.buf.length) fail('invalid_argument', 'media: data after the final chunk');
  }

  private pull(chunk: Bytes): void {
    sodium.crypto_hash_sha256_update(this.hash, chunk);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const r = sodium.crypto_secretstream_xchacha20poly1305_pull(this.state as any, chunk, null);
    if (!r) fail('forbidden', 'media: chunk failed authentication');
    const res = r as { message: Bytes; tag: number };
    this.out.push(res.message);
    this.size += res.message.length;
    if (res.tag === sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
      this.done = true;
      return;
    }
    if (res.tag !== sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE || chunk.length !== MEDIA_CHUNK_BYTES + CHUNK_OVERHEAD) {
      fail('invalid_argument', 'media: malformed stream');
    }
  }

  /** The plaintext chunks; throws if the stream or its hash/size is wrong. */
  finish(): Bytes[] {
    if (!this.state) fail('invalid_argument', 'media: truncated header');
    if (!this.done) {
      if (this.buf.length === 0) fail('invalid_argument', 'media: truncated stream');
      if (this.buf.length < CHUNK_OVERHEAD) fail('invalid_argument', 'media: truncated chunk');
      this.pull(this.buf);
      this.buf = new Uint8Array(0);
      if (!this.done) fail('invalid_argument', 'media: truncated stream');
    }
    const digest = sodium.crypto_hash_sha256_final(this.hash);
    if (this.expectedSha256 && !equal(digest, this.expectedSha256)) fail('forbidden', 'media: blob hash mismatch');
    if (this.expectedSize !== undefined && this.expectedSize !== this.size) fail('forbidden', 'media: size mismatch');
    return this.out;
  }
}

export function decryptMedia(blob: Bytes, key: Bytes, expectedSha256?: Bytes, expectedSize?: number): Bytes {
  const d = new MediaDecryptor(key, expectedSha256, expectedSize);
  d.push(blob);
  return concat(...d.finish());
}
