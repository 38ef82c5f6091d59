#include "sdk/crypto/sender_key.h"

#include <algorithm>

#include "sdk/crypto/double_ratchet.h"
#include "sdk/crypto/wire.h"

namespace parley::sdk::crypto {
namespace {

constexpr uint8_t kDistributionType = 1;
constexpr uint8_t kStateVersion = 1;
constexpr size_t kMessageOverhead = 1 + kChainIdBytes + 4 + kAeadTagBytes + kSignatureBytes;

Error Malformed(const char* what) { return MakeError(ErrorCode::kInvalidArgument, what); }

}  // namespace

SenderChain NewSenderChain(const RandomFn& random) {
  SenderChain c;
  c.chain_id = random(kChainIdBytes);
  c.chain_key = random(kKeyBytes);
  c.signing_seed = random(kKeyBytes);
  c.signing_public = Ed25519FromSeed(c.signing_seed).public_key;
  return c;
}

std::string SenderKeyAd(const SenderKeyContext& ctx, std::string_view chain_id,
                        uint32_t iteration) {
  ByteWriter w;
  w.U8(kSenderKeyVersion);
  w.Str16(ctx.conversation_id);
  w.Str16(ctx.sender_user_id);
  w.Str16(ctx.sender_device_id);
  w.Raw(chain_id);
  w.U32(iteration);
  return w.Take();
}

Result<SenderKeyEncrypted> SenderKeyEncrypt(SenderChain chain, const SenderKeyContext& ctx,
                                            std::string_view plaintext) {
  if (ctx.conversation_id.size() > kMaxIdBytes || ctx.sender_user_id.size() > kMaxIdBytes ||
      ctx.sender_device_id.size() > kMaxIdBytes) {
    return Malformed("sender key: id too long");
  }
  if (plaintext.size() + kMessageOverhead > kMaxSenderKeyMessageBytes) {
    return MakeError(ErrorCode::kPayloadTooLarge, "sender key: message too large");
  }
  if (chain.iteration == UINT32_MAX) return MakeError(ErrorCode::kInternal, "chain exhausted");
  ChainStep step = KdfCk(chain.chain_key);
  uint32_t iteration = chain.iteration;
  chain.chain_key = step.ck;
  ++chain.iteration;
  std::string ad = SenderKeyAd(ctx, chain.chain_id, iteration);
  AeadKey k = MessageKeyToAead(step.mk, kSenderKeyMessageInfo);
  std::string ct = AeadEncrypt(k.key, k.nonce, plaintext, ad);
  Wipe(k.key);
  ByteWriter w;
  w.U8(kSenderKeyVersion);
  w.Raw(chain.chain_id);
  w.U32(iteration);
  w.Raw(ct);
  w.Raw(Ed25519Sign(chain.signing_seed, ad + ct));
  return SenderKeyEncrypted{std::move(chain), w.Take(), std::move(step.mk)};
}

Result<SenderKeyMessageHeader> ParseSenderKeyHeader(std::string_view message) {
  if (message.size() > kMaxSenderKeyMessageBytes) return Malformed("sender key: too long");
  if (message.empty() || static_cast<uint8_t>(message[0]) != kSenderKeyVersion) {
    return Malformed("sender key: unknown version");
  }
  if (message.size() < kMessageOverhead) return Malformed("sender key: truncated");
  ByteReader r(message.substr(1));
  SenderKeyMessageHeader h;
  h.chain_id = r.Raw(kChainIdBytes);
  h.iteration = r.U32();
  return h;
}

Result<SenderKeyDecrypted> SenderKeyDecrypt(SenderReceiver rcv, const SenderKeyContext& ctx,
                                            std::string_view message) {
  auto header = ParseSenderKeyHeader(message);
  if (!header.ok()) return header.error();
  if (header->chain_id != rcv.chain_id) return Malformed("sender key: another chain");
  size_t ct_begin = 1 + kChainIdBytes + 4;
  std::string_view ct = message.substr(ct_begin, message.size() - ct_begin - kSignatureBytes);
  std::string_view sig = message.substr(message.size() - kSignatureBytes);
  std::string ad = SenderKeyAd(ctx, rcv.chain_id, header->iteration);
  std::string signed_part = ad;
  signed_part.append(ct);
  if (!Ed25519Verify(rcv.signing_public, signed_part, sig)) {
    return MakeError(ErrorCode::kForbidden, "sender key: bad signature");
  }
  uint32_t it = header->iteration;
  std::string mk;
  if (it < rcv.iteration) {
    auto found = std::find_if(rcv.skipped.begin(), rcv.skipped.end(),
                              [&](const auto& e) { return e.first == it; });
    if (found == rcv.skipped.end()) {
      return MakeError(ErrorCode::kConflict, "sender key: replayed or expired message");
    }
    mk = found->second;
    Wipe(found->second);
    rcv.skipped.erase(found);
  } else {
    if (it - rcv.iteration > kMaxSenderKeySkip) {
      return Malformed("sender key: too many skipped messages");
    }
    while (rcv.iteration < it) {
      ChainStep step = KdfCk(rcv.chain_key);
      rcv.skipped.emplace_back(rcv.iteration, step.mk);
      rcv.chain_key = step.ck;
      ++rcv.iteration;
    }
    ChainStep step = KdfCk(rcv.chain_key);
    mk = step.mk;
    rcv.chain_key = step.ck;
    ++rcv.iteration;  // UINT32_MAX + 1 cannot happen: the sender refuses that iteration
    if (rcv.skipped.size() > kMaxSenderKeySkipped) {
      size_t drop = rcv.skipped.size() - kMaxSenderKeySkipped;
      for (size_t i = 0; i < drop; ++i) Wipe(rcv.skipped[i].second);
      rcv.skipped.erase(rcv.skipped.begin(), rcv.skipped.begin() + static_cast<ptrdiff_t>(drop));
    }
  }
  AeadKey k = MessageKeyToAead(mk, kSenderKeyMessageInfo);
  auto pt = AeadDecrypt(k.key, k.nonce, ct, ad);
  Wipe(k.key);
  if (!pt.ok()) return pt.error();
  return SenderKeyDecrypted{std::move(rcv), std::move(*pt), std::move(mk)};
}

std::string EncodeDistribution(const SenderKeyDistribution& d) {
  ByteWriter w;
  w.U8(kDistributionType);
  w.Str16(d.conversation_id);
  w.Raw(d.chain_id);
  w.U32(d.iteration);
  w.Raw(d.chain_key);
  w.Raw(d.signing_public);
  w.U8(d.search_key ? 1 : 0);
  if (d.search_key) {
    w.U32(d.search_key->first);
    w.Raw(d.search_key->second);
  }
  return w.Take();
}

Result<SenderKeyDistribution> DecodeDistribution(std::string_view bytes) {
  ByteReader r(bytes);
  if (r.U8() != kDistributionType) return Malformed("distribution: unknown type");
  SenderKeyDistribution d;
  d.conversation_id = r.Str16(kMaxIdBytes);
  d.chain_id = r.Raw(kChainIdBytes);
  d.iteration = r.U32();
  d.chain_key = r.Raw(kKeyBytes);
  d.signing_public = r.Raw(kKeyBytes);
  uint8_t has_search = r.U8();
  if (has_search > 1) r.Fail();
  if (has_search == 1) {
    uint32_t epoch = r.U32();
    d.search_key.emplace(epoch, r.Raw(kKeyBytes));
  }
  if (!r.AtEnd()) return Malformed("distribution: malformed");
  return d;
}

std::string SerializeSenderChain(const SenderChain& c) {
  ByteWriter w;
  w.U8(kStateVersion);
  w.Raw(c.chain_id);
  w.U32(c.iteration);
  w.Raw(c.chain_key);
  w.Raw(c.signing_seed);
  w.Raw(c.signing_public);
  return w.Take();
}

Result<SenderChain> ParseSenderChain(std::string_view bytes) {
  ByteReader r(bytes);
  if (r.U8() != kStateVersion) return Malformed("sender chain: unknown version");
  SenderChain c;
  c.chain_id = r.Raw(kChainIdBytes);
  c.iteration = r.U32();
  c.chain_key = r.Raw(kKeyBytes);
  c.signing_seed = r.Raw(kKeyBytes);
  c.signing_public = r.Raw(kKeyBytes);
  if (!r.AtEnd()) return Malformed("sender chain: malformed");
  return c;
}

std::string SerializeSenderReceiver(const SenderReceiver& s) {
  ByteWriter w;
  w.U8(kStateVersion);
  w.Raw(s.chain_id);
  w.U32(s.iteration);
  w.Raw(s.chain_key);
  w.Raw(s.signing_public);
  w.U32(static_cast<uint32_t>(s.skipped.size()));
  for (const auto& [it, mk] : s.skipped) {
    w.U32(it);
    w.Raw(mk);
  }
  return w.Take();
}

Result<SenderReceiver> ParseSenderReceiver(std::string_view bytes) {
  ByteReader r(bytes);
  if (r.U8() != kStateVersion) return Malformed("sender receiver: unknown version");
  SenderReceiver s;
  s.chain_id = r.Raw(kChainIdBytes);
  s.iteration = r.U32();
  s.chain_key = r.Raw(kKeyBytes);
  s.signing_public = r.Raw(kKeyBytes);
  uint32_t n = r.U32();
  if (n > kMaxSenderKeySkipped) r.Fail();
  for (uint32_t i = 0; r.ok() && i < n; ++i) {
    uint32_t it = r.U32();
    s.skipped.emplace_back(it, r.Raw(kKeyBytes));
  }
  if (!r.AtEnd()) return Malformed("sender receiver: malformed");
  return s;
}

}  // namespace parley::sdk::crypto
