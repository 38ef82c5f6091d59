import { describe, expect, it } from 'vitest';
import { decodePayload, encodePayload } from './payload';

describe('payload (C++ SDK content format)', () => {
  it('round-trips text and media, and reads anything else as text', () => {
    expect(encodePayload({ text: 'hello' })).toBe('{"v":1,"text":"hello"}');
    const media = { media_id: 'm', key: 'a2V5', sha256: 'ab', size: 3, media_type: 'image/png', file_name: 'x.png' };
    expect(decodePayload(encodePayload({ text: 'x.png', media })).media).toEqual(media);
    expect(decodePayload('plain words').text).toBe('plain words');
    expect(decodePayload('{"v":2,"text":"x"}').text).toBe('{"v":2,"text":"x"}');
    expect(decodePayload('[1]').text).toBe('[1]');
    // A C++-made payload (boost::json field order) reads the same.
    const cpp = '{"v":1,"text":"doc.pdf","media":{"media_id":"id","key":"S0VZ","sha256":"00","size":10,"media_type":"application/pdf","file_name":"doc.pdf"}}';
    expect(decodePayload(cpp).media?.file_name).toBe('doc.pdf');
    expect(decodePayload('{"v":1,"text":"t","thumbnail":{"media_type":"text/html","data":"x"}}').thumbnail).toBeUndefined();
  });
});
