#include "sdk/e2ee/envelope.h"

#include "sdk/crypto/primitives.h"
#include "sdk/crypto/wire.h"

namespace parley::sdk::e2ee {

using crypto::ByteReader;
using crypto::ByteWriter;

std::string EncodeEnvelope(const Envelope& e) {
  ByteWriter w;
  w.U8(kEnvelopeVersion);
  w.U8(e.prekey ? 1 : 2);
  if (e.prekey) {
    w.Raw(e.prekey->signing_key);
    w.Raw(e.prekey->ephemeral);
    w.U64(e.prekey->signed_prekey_id);
    w.U8(e.prekey->one_time_prekey_id ? 1 : 0);
    if (e.prekey->one_time_prekey_id) w.U64(*e.prekey->one_time_prekey_id);
  }
  w.Raw(e.header.Encode());
  w.Raw(e.ciphertext);
  return w.Take();
}

Result<Envelope> DecodeEnvelope(std::string_view bytes) {
  auto bad = [](const char* m) { return MakeError(ErrorCode::kInvalidArgument, m); };
  if (bytes.size() > kMaxEnvelopeBytes) return bad("envelope: too large");
  ByteReader r(bytes);
  if (r.U8() != kEnvelopeVersion) return bad("envelope: unknown version");
  uint8_t type = r.U8();
  if (!r.ok() || (type != 1 && type != 2)) return bad("envelope: unknown type");
  Envelope e;
  if (type == 1) {
    PrekeyFields p;
    p.signing_key = r.Raw(crypto::kKeyBytes);
    p.ephemeral = r.Raw(crypto::kKeyBytes);
    p.signed_prekey_id = r.U64();
    uint8_t has = r.U8();
    if (has > 1) return bad("envelope: malformed");
    if (has) p.one_time_prekey_id = r.U64();
    e.prekey = std::move(p);
  }
  std::string header = r.Raw(crypto::kRatchetHeaderBytes);
  if (!r.ok()) return bad("envelope: truncated");
  auto h = crypto::RatchetHeader::Decode(header);
  if (!h.ok()) return h.error();
  e.header = std::move(*h);
  e.ciphertext = r.Rest();
  if (e.ciphertext.size() < crypto::kAeadTagBytes) return bad("envelope: truncated");
  return e;
}

}  // namespace parley::sdk::e2ee
