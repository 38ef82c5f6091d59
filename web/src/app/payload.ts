// The plaintext of Parley's E2EE messages, compatible with the C++ SDK (client_payload.h):
//   {"v":1,"text":"hello"}
//   {"v":1,"text":"photo.png","media":{media_id,key,sha256,size,media_type,file_name}}
// The web client adds "thumbnail":{media_type,data(base64),width,height} for images (sender-made,
// inside the encryption); the C++ SDK ignores unknown fields. Anything that is not such an
// object reads as plain text.
import type { MediaDescriptor, Thumbnail } from './db';

export interface Payload {
  text: string;
  media?: MediaDescriptor;
  thumbnail?: Thumbnail;
}

export function encodePayload(p: Payload): string {
  const o: Record<string, unknown> = { v: 1, text: p.text };
  if (p.media) o.media = p.media;
  if (p.thumbnail) o.thumbnail = p.thumbnail;
  return JSON.stringify(o);
}

export function decodePayload(plaintext: string): Payload {
  let o: unknown;
  try {
    o = JSON.parse(plaintext);
  } catch {
    return { text: plaintext };
  }
  if (!o || typeof o !== 'object' || Array.isArray(o)) return { text: plaintext };
  const r = o as Record<string, unknown>;
  if (r.v !== 1 || !('text' in r)) return { text: plaintext };
  const p: Payload = { text: typeof r.text === 'string' ? r.text : '' };
  const m = r.media as Record<string, unknown> | undefined;
  if (m && typeof m === 'object' && typeof m.media_id === 'string' && m.media_id && typeof m.key === 'string') {
    p.media = {
      media_id: m.media_id,
      key: m.key,
      sha256: typeof m.sha256 === 'string' ? m.sha256 : '',
      size: typeof m.size === 'number' && m.size >= 0 ? m.size : 0,
      media_type: typeof m.media_type === 'string' ? m.media_type : 'application/octet-stream',
      file_name: typeof m.file_name === 'string' ? m.file_name : 'file',
    };
  }
  const t = r.thumbnail as Record<string, unknown> | undefined;
  if (t && typeof t === 'object' && typeof t.data === 'string' && /^image\/(jpeg|png|webp)$/.test(String(t.media_type))) {
    p.thumbnail = { media_type: String(t.media_type), data: t.data, width: Number(t.width) || 0, height: Number(t.height) || 0 };
  }
  return p;
}

export function contentTypeForMedia(mediaType: string): string {
  for (const k of ['image', 'video', 'audio']) if (mediaType.startsWith(`${k}/`)) return k;
  return 'document';
}
