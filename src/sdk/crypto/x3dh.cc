#include "sdk/crypto/x3dh.h"

namespace parley::sdk::crypto {
namespace {

Result<X3dhResult> Derive(std::vector<std::string> dh, std::string_view ik_a,
                          std::string_view ik_b) {
  std::string ikm(32, '\xff');
  for (const auto& d : dh) ikm += d;
  X3dhResult r;
  r.shared_secret = HkdfSha256(std::string(32, '\0'), ikm, kX3dhInfo, 32);
  Wipe(ikm);
  r.associated_data = EncodeX25519Key(ik_a) + EncodeX25519Key(ik_b);
  r.dh = std::move(dh);
  return r;
}

}  // namespace

std::string EncodeX25519Key(std::string_view public_key) {
  std::string out(1, '\x05');
  out.append(public_key);
  return out;
}

Identity IdentityFromSeed(std::string_view seed) {
  Identity id;
  id.seed = std::string(seed);
  id.signing_key = Ed25519FromSeed(seed).public_key;
  // A key derived from a valid seed is always a valid point.
  id.identity_key = Ed25519PublicToX25519(id.signing_key).value();
  id.dh_private = Ed25519SeedToX25519Private(seed);
  return id;
}

std::string SignPrekey(std::string_view identity_seed, std::string_view signed_prekey_public) {
  return Ed25519Sign(identity_seed, EncodeX25519Key(signed_prekey_public));
}

bool VerifyPrekey(std::string_view signing_key, std::string_view signed_prekey_public,
                  std::string_view signature) {
  return Ed25519Verify(signing_key, EncodeX25519Key(signed_prekey_public), signature);
}

Result<Unit> CheckBundle(const Bundle& b) {
  if (b.signing_key.size() != kKeyBytes || b.identity_key.size() != kKeyBytes ||
      b.signed_prekey.size() != kKeyBytes || b.signed_prekey_signature.size() != kSignatureBytes ||
      (b.one_time_prekey_id.has_value() != !b.one_time_prekey.empty()) ||
      (!b.one_time_prekey.empty() && b.one_time_prekey.size() != kKeyBytes)) {
    return MakeError(ErrorCode::kInvalidArgument, "x3dh: malformed bundle");
  }
  auto converted = Ed25519PublicToX25519(b.signing_key);
  if (!converted.ok()) return converted.error();
  if (*converted != b.identity_key) {
    return MakeError(ErrorCode::kForbidden, "x3dh: identity_key does not match signing_key");
  }
  if (!VerifyPrekey(b.signing_key, b.signed_prekey, b.signed_prekey_signature)) {
    return MakeError(ErrorCode::kForbidden, "x3dh: bad signed prekey signature");
  }
  return Unit{};
}

Result<X3dhResult> X3dhInitiate(const Identity& alice, const Bundle& bob,
                                const KeyPair& ephemeral) {
  PARLEY_TRY(CheckBundle(bob));
  std::vector<std::string> dh;
  auto d1 = X25519(alice.dh_private, bob.signed_prekey);
  auto d2 = X25519(ephemeral.private_key, bob.identity_key);
  auto d3 = X25519(ephemeral.private_key, bob.signed_prekey);
  if (!d1.ok()) return d1.error();
  if (!d2.ok()) return d2.error();
  if (!d3.ok()) return d3.error();
  dh = {*d1, *d2, *d3};
  if (!bob.one_time_prekey.empty()) {
    auto d4 = X25519(ephemeral.private_key, bob.one_time_prekey);
    if (!d4.ok()) return d4.error();
    dh.push_back(*d4);
  }
  return Derive(std::move(dh), alice.identity_key, bob.identity_key);
}

Result<X3dhResult> X3dhRespond(const Identity& bob, std::string_view signed_prekey_private,
                               std::string_view one_time_prekey_private,
                               std::string_view alice_signing_key,
                               std::string_view alice_ephemeral) {
  auto alice_ik = Ed25519PublicToX25519(alice_signing_key);
  if (!alice_ik.ok()) return alice_ik.error();
  auto d1 = X25519(signed_prekey_private, *alice_ik);
  auto d2 = X25519(bob.dh_private, alice_ephemeral);
  auto d3 = X25519(signed_prekey_private, alice_ephemeral);
  if (!d1.ok()) return d1.error();
  if (!d2.ok()) return d2.error();
  if (!d3.ok()) return d3.error();
  std::vector<std::string> dh = {*d1, *d2, *d3};
  if (!one_time_prekey_private.empty()) {
    auto d4 = X25519(one_time_prekey_private, alice_ephemeral);
    if (!d4.ok()) return d4.error();
    dh.push_back(*d4);
  }
  return Derive(std::move(dh), *alice_ik, bob.identity_key);
}

}  // namespace parley::sdk::crypto
