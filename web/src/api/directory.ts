// The engine's KeyDirectory over the HTTP API (twin of src/sdk/api/http_key_directory.cc).
import type { KeyDirectory, PrekeyBundle, PublishedKeys } from '../engine/ports';
import { E2eeError } from '../protocol/errors';
import { type Api, ApiError } from './api';
import type { KeysDevice } from './types';

/** An API failure as the engine's error codes (404 not_found, 403 forbidden, …, else unavailable). */
export function mapError(e: unknown): never {
  if (e instanceof ApiError) {
    const code = e.status === 404 ? 'not_found' : e.status === 403 ? 'forbidden' : e.status === 400 ? 'invalid_argument' : 'unavailable';
    throw new E2eeError(code, e.message);
  }
  throw e;
}

function toBundle(userId: string, d: KeysDevice): PrekeyBundle {
  const b: PrekeyBundle = {
    userId,
    deviceId: d.device_id,
    identityKey: d.identity_key,
    signingKey: d.signing_key,
    signedPrekeyId: d.signed_prekey?.key_id,
    signedPrekey: d.signed_prekey?.public_key,
    signedPrekeySignature: d.signed_prekey?.signature,
  };
  if (d.one_time_prekey) {
    b.oneTimePrekeyId = d.one_time_prekey.key_id;
    b.oneTimePrekey = d.one_time_prekey.public_key;
  }
  return b;
}

export class HttpKeyDirectory implements KeyDirectory {
  constructor(private readonly api: Api) {}
  async publish(k: PublishedKeys): Promise<void> {
    await this.api
      .putKeys({
        identity_key: k.identityKey,
        signing_key: k.signingKey,
        signed_prekey: { key_id: k.signedPrekeyId, public_key: k.signedPrekey, signature: k.signedPrekeySignature },
        one_time_prekeys: k.oneTimePrekeys.map(([key_id, public_key]) => ({ key_id, public_key })),
      })
      .catch(mapError);
  }
  async countOneTimePrekeys(): Promise<number> {
    return (await this.api.keyCount().catch(mapError)).one_time_prekeys;
  }
  async listDevices(userId: string): Promise<PrekeyBundle[]> {
    return (await this.api.listKeys(userId).catch(mapError)).devices.map((d) => toBundle(userId, d));
  }
  async claimBundle(userId: string, deviceId: string): Promise<PrekeyBundle> {
    const r = await this.api.claimKeys(userId, deviceId).catch(mapError);
    const d = r.devices.find((x) => x.device_id === deviceId);
    if (!d) throw new E2eeError('not_found', 'no keys for that device');
    return toBundle(userId, d);
  }
  async sendToDevice(messages: Record<string, Record<string, string>>): Promise<void> {
    if (!Object.keys(messages).length) return;
    await this.api.sendToDevice(messages).catch(mapError);
  }
}
