// Ids the clients compute themselves (twin of src/common/ids.cc).
import { toHex, utf8 } from './bytes';
import { sha256 } from './primitives';

/** The direct conversation id of two users: UUIDv8 from SHA-256("parley.direct.v1:" lo ":" hi). */
export function directConversationId(a: string, b: string): string {
  const [lo, hi] = a < b ? [a, b] : [b, a];
  const d = sha256(utf8(`parley.direct.v1:${lo}:${hi}`)).slice(0, 16);
  d[6] = (d[6] & 0x0f) | 0x80;
  d[8] = (d[8] & 0x3f) | 0x80;
  const h = toHex(d);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
