#include "sdk/crypto/double_ratchet.h"

#include <algorithm>

#include "sdk/crypto/wire.h"

namespace parley::sdk::crypto {
namespace {

constexpr uint8_t kStateVersion = 1;
constexpr size_t kMaxAdBytes = 256;

Error Malformed(const char* what) { return MakeError(ErrorCode::kInvalidArgument, what); }

// The spec's SkipMessageKeys(state, until).
Result<Unit> SkipMessageKeys(RatchetState& s, uint32_t until) {
  if (static_cast<uint64_t>(s.nr) + kMaxSkip < until) {
    return MakeError(ErrorCode::kInvalidArgument, "ratchet: too many skipped messages");
  }
  if (s.ckr.empty()) return Unit{};
  while (s.nr < until) {
    ChainStep step = KdfCk(s.ckr);
    s.ckr = step.ck;
    s.skipped.push_back(SkippedKey{s.dhr, s.nr, step.mk});
    ++s.nr;
  }
  if (s.skipped.size() > kMaxSkippedKeys) {
    size_t drop = s.skipped.size() - kMaxSkippedKeys;
    for (size_t i = 0; i < drop; ++i) Wipe(s.skipped[i].mk);
    s.skipped.erase(s.skipped.begin(), s.skipped.begin() + static_cast<ptrdiff_t>(drop));
  }
  return Unit{};
}

// The spec's DHRatchet(state, header).
Result<Unit> DhRatchet(RatchetState& s, const RatchetHeader& h, const RandomFn& random) {
  if (!s.dhr.empty()) {
    s.old_dhr.push_back(s.dhr);
    if (s.old_dhr.size() > kMaxOldRatchetKeys) s.old_dhr.erase(s.old_dhr.begin());
  }
  s.pn = s.ns;
  s.ns = 0;
  s.nr = 0;
  s.dhr = h.dh;
  auto dh1 = X25519(s.dhs_private, s.dhr);
  if (!dh1.ok()) return dh1.error();
  RootStep r1 = KdfRk(s.rk, *dh1);
  s.rk = r1.rk;
  s.ckr = r1.ck;
  KeyPair next = GenerateX25519(random);
  s.dhs_private = next.private_key;
  s.dhs_public = next.public_key;
  auto dh2 = X25519(s.dhs_private, s.dhr);
  if (!dh2.ok()) return dh2.error();
  RootStep r2 = KdfRk(s.rk, *dh2);
  s.rk = r2.rk;
  s.cks = r2.ck;
  return Unit{};
}

Result<std::string> Open(std::string_view mk, std::string_view ciphertext, std::string_view ad,
                         const RatchetHeader& h) {
  AeadKey k = MessageKeyToAead(mk, kRatchetMessageInfo);
  std::string full_ad(ad);
  full_ad += h.Encode();
  return AeadDecrypt(k.key, k.nonce, ciphertext, full_ad);
}

}  // namespace

std::string RatchetHeader::Encode() const {
  ByteWriter w;
  w.Raw(dh);
  w.U32(pn);
  w.U32(n);
  return w.Take();
}

Result<RatchetHeader> RatchetHeader::Decode(std::string_view bytes) {
  if (bytes.size() != kRatchetHeaderBytes) return Malformed("ratchet: bad header length");
  ByteReader r(bytes);
  RatchetHeader h;
  h.dh = r.Raw(32);
  h.pn = r.U32();
  h.n = r.U32();
  return h;
}

RootStep KdfRk(std::string_view rk, std::string_view dh_out) {
  std::string out = HkdfSha256(rk, dh_out, kRatchetRootInfo, 64);
  RootStep step{out.substr(0, 32), out.substr(32, 32)};
  Wipe(out);
  return step;
}

ChainStep KdfCk(std::string_view ck) {
  return ChainStep{HmacSha256(ck, std::string(1, '\x02')), HmacSha256(ck, std::string(1, '\x01'))};
}

AeadKey MessageKeyToAead(std::string_view mk, std::string_view info) {
  std::string out = HkdfSha256(std::string(32, '\0'), mk, info, 56);
  AeadKey k{out.substr(0, 32), out.substr(32, 24)};
  Wipe(out);
  return k;
}

Result<RatchetState> RatchetInitAlice(std::string_view sk, std::string_view bob_dh_public,
                                      const RandomFn& random, std::string_view ad) {
  RatchetState s;
  KeyPair dhs = GenerateX25519(random);
  s.dhs_private = dhs.private_key;
  s.dhs_public = dhs.public_key;
  s.dhr = std::string(bob_dh_public);
  auto dh = X25519(s.dhs_private, s.dhr);
  if (!dh.ok()) return dh.error();
  RootStep r = KdfRk(sk, *dh);
  s.rk = r.rk;
  s.cks = r.ck;
  s.ad = std::string(ad);
  return s;
}

RatchetState RatchetInitBob(std::string_view sk, const KeyPair& bob_dh, std::string_view ad) {
  RatchetState s;
  s.dhs_private = bob_dh.private_key;
  s.dhs_public = bob_dh.public_key;
  s.rk = std::string(sk);
  s.ad = std::string(ad);
  return s;
}

Result<RatchetEncrypted> RatchetEncrypt(RatchetState s, std::string_view plaintext) {
  if (s.cks.empty()) return MakeError(ErrorCode::kInternal, "ratchet: no sending chain");
  if (s.ns == UINT32_MAX) return MakeError(ErrorCode::kInternal, "ratchet: chain exhausted");
  ChainStep step = KdfCk(s.cks);
  s.cks = step.ck;
  RatchetHeader h{s.dhs_public, s.pn, s.ns};
  ++s.ns;
  AeadKey k = MessageKeyToAead(step.mk, kRatchetMessageInfo);
  std::string ad = s.ad + h.Encode();
  std::string ct = AeadEncrypt(k.key, k.nonce, plaintext, ad);
  Wipe(k.key);
  return RatchetEncrypted{std::move(s), std::move(h), std::move(ct), std::move(step.mk)};
}

Result<RatchetDecrypted> RatchetDecrypt(RatchetState s, const RatchetHeader& h,
                                        std::string_view ciphertext, const RandomFn& random) {
  if (h.dh.size() != kKeyBytes) return Malformed("ratchet: bad header");
  // TrySkippedMessageKeys
  auto it = std::find_if(s.skipped.begin(), s.skipped.end(),
                         [&](const SkippedKey& k) { return k.n == h.n && k.dh == h.dh; });
  if (it != s.skipped.end()) {
    std::string mk = it->mk;
    auto pt = Open(mk, ciphertext, s.ad, h);
    if (!pt.ok()) return pt.error();
    Wipe(it->mk);
    s.skipped.erase(it);
    return RatchetDecrypted{std::move(s), std::move(*pt), std::move(mk)};
  }
  if (h.dh == s.dhr && h.n < s.nr) {
    return MakeError(ErrorCode::kConflict, "ratchet: replayed or expired message");
  }
  if (std::find(s.old_dhr.begin(), s.old_dhr.end(), h.dh) != s.old_dhr.end()) {
    return MakeError(ErrorCode::kConflict, "ratchet: replayed or expired message");
  }
  if (h.dh != s.dhr) {
    PARLEY_TRY(SkipMessageKeys(s, h.pn));
    PARLEY_TRY(DhRatchet(s, h, random));
  }
  PARLEY_TRY(SkipMessageKeys(s, h.n));
  ChainStep step = KdfCk(s.ckr);
  s.ckr = step.ck;
  ++s.nr;
  auto pt = Open(step.mk, ciphertext, s.ad, h);
  if (!pt.ok()) return pt.error();
  return RatchetDecrypted{std::move(s), std::move(*pt), std::move(step.mk)};
}

std::string SerializeRatchet(const RatchetState& s) {
  ByteWriter w;
  w.U8(kStateVersion);
  w.Raw(s.dhs_private);
  w.Raw(s.dhs_public);
  w.Str16(s.dhr);
  w.Raw(s.rk);
  w.Str16(s.cks);
  w.Str16(s.ckr);
  w.U32(s.ns);
  w.U32(s.nr);
  w.U32(s.pn);
  w.U32(static_cast<uint32_t>(s.skipped.size()));
  for (const auto& k : s.skipped) {
    w.Raw(k.dh);
    w.U32(k.n);
    w.Raw(k.mk);
  }
  w.U8(static_cast<uint8_t>(s.old_dhr.size()));
  for (const auto& k : s.old_dhr) w.Raw(k);
  w.Str16(s.ad);
  return w.Take();
}

Result<RatchetState> ParseRatchet(std::string_view bytes) {
  ByteReader r(bytes);
  if (r.U8() != kStateVersion) return Malformed("ratchet state: unknown version");
  RatchetState s;
  s.dhs_private = r.Raw(32);
  s.dhs_public = r.Raw(32);
  s.dhr = r.Str16(32);
  s.rk = r.Raw(32);
  s.cks = r.Str16(32);
  s.ckr = r.Str16(32);
  s.ns = r.U32();
  s.nr = r.U32();
  s.pn = r.U32();
  uint32_t n = r.U32();
  if (n > kMaxSkippedKeys) r.Fail();
  for (uint32_t i = 0; r.ok() && i < n; ++i) {
    SkippedKey k;
    k.dh = r.Raw(32);
    k.n = r.U32();
    k.mk = r.Raw(32);
    s.skipped.push_back(std::move(k));
  }
  uint8_t old = r.U8();
  if (old > kMaxOldRatchetKeys) r.Fail();
  for (uint8_t i = 0; r.ok() && i < old; ++i) s.old_dhr.push_back(r.Raw(32));
  s.ad = r.Str16(kMaxAdBytes);
  if (!r.AtEnd()) return Malformed("ratchet state: malformed");
  return s;
}

}  // namespace parley::sdk::crypto
