// The pairwise to-device envelope: docs/protocol.md §5; twin of src/sdk/e2ee/envelope.cc.
import { type Bytes, ByteReader, ByteWriter } from './bytes';
import { fail } from './errors';
import { AEAD_TAG_BYTES } from './primitives';
import { type RatchetHeader, RATCHET_HEADER_BYTES, decodeHeader, encodeHeader } from './ratchet';

export const ENVELOPE_VERSION = 1;
export const MAX_ENVELOPE_BYTES = 64 * 1024;

export interface PrekeyFields {
  signingKey: Bytes;
  ephemeral: Bytes;
  signedPrekeyId: number;
  oneTimePrekeyId?: number;
}

export interface Envelope {
  prekey?: PrekeyFields;
  header: RatchetHeader;
  ciphertext: Bytes;
}

export function encodeEnvelope(e: Envelope): Bytes {
  const w = new ByteWriter().u8(ENVELOPE_VERSION).u8(e.prekey ? 1 : 2);
  if (e.prekey) {
    w.raw(e.prekey.signingKey).raw(e.prekey.ephemeral).u64(e.prekey.signedPrekeyId);
    w.u8(e.prekey.oneTimePrekeyId !== undefined ? 1 : 0);
    if (e.prekey.oneTimePrekeyId !== undefined) w.u64(e.prekey.oneTimePrekeyId);
  }
  return w.raw(encodeHeader(e.header)).raw(e.ciphertext).take();
}

export function decodeEnvelope(b: Bytes): Envelope {
  if (b.length > MAX_ENVELOPE_BYTES) fail('invalid_argument', 'envelope: too large');
  const r = new ByteReader(b);
  if (r.u8() !== ENVELOPE_VERSION) fail('invalid_argument', 'envelope: unknown version');
  const type = r.u8();
  if (!r.ok || (type !== 1 && type !== 2)) fail('invalid_argument', 'envelope: unknown type');
  let prekey: PrekeyFields | undefined;
  if (type === 1) {
    prekey = { signingKey: r.raw(32), ephemeral: r.raw(32), signedPrekeyId: r.u64() };
    const has = r.u8();
    if (has > 1) fail('invalid_argument', 'envelope: malformed');
    if (has) prekey.oneTimePrekeyId = r.u64();
  }
  const header = r.raw(RATCHET_HEADER_BYTES);
  if (!r.ok) fail('invalid_argument', 'envelope: truncated');
  const ciphertext = r.rest();
  if (ciphertext.length < AEAD_TAG_BYTES) fail('invalid_argument', 'envelope: truncated');
  return { prekey, header: decodeHeader(header), ciphertext };
}
