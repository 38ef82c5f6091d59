// X3DH (https://signal.org/docs/specifications/x3dh/) with X25519 and SHA-256, Parley profile:
//   info  = "parley.x3dh.v1"
//   Encode(PK) = 0x05 || PK (the 32-byte X25519 u-coordinate), as in libsignal
//   SK = HKDF-SHA-256(salt = 32 zero bytes, IKM = 0xFF×32 || DH1 || DH2 || DH3 [|| DH4], info, 32)
//   AD = Encode(IK_A) || Encode(IK_B) with the X25519 forms of the identity keys (66 bytes)
// The identity key is an Ed25519 key pair; its X25519 form does the DH (crypto_sign_ed25519_*
// conversions). The signed prekey signature is a standard Ed25519 signature (RFC 8032) by the
// identity key over Encode(SPK). Pure functions: no state, no I/O.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "sdk/crypto/primitives.h"

namespace parley::sdk::crypto {

inline constexpr std::string_view kX3dhInfo = "parley.x3dh.v1";
inline constexpr size_t kX3dhAdBytes = 66;

// 0x05 || an X25519 public key.
std::string EncodeX25519Key(std::string_view public_key);

// A device identity derived from its 32-byte Ed25519 seed.
struct Identity {
  std::string seed;           // Ed25519 seed (secret)
  std::string signing_key;    // Ed25519 public key (wire `signing_key`)
  std::string identity_key;   // X25519 public key (wire `identity_key`)
  std::string dh_private;     // X25519 private key (secret)
};
Identity IdentityFromSeed(std::string_view seed);

// The signature of a signed prekey (Ed25519 over Encode(SPK)).
std::string SignPrekey(std::string_view identity_seed, std::string_view signed_prekey_public);
bool VerifyPrekey(std::string_view signing_key, std::string_view signed_prekey_public,
                  std::string_view signature);

// A peer's bundle, decoded from base64.
struct Bundle {
  std::string signing_key, identity_key;
  uint64_t signed_prekey_id = 0;
  std::string signed_prekey, signed_prekey_signature;
  std::optional<uint64_t> one_time_prekey_id;
  std::string one_time_prekey;  // empty when none
};

// Checks a bundle's keys: lengths, identity_key == X25519 form of signing_key, and the signed
// prekey signature. kInvalidArgument (malformed) or kForbidden (a bad signature / mismatch).
Result<Unit> CheckBundle(const Bundle& bundle);

struct X3dhResult {
  std::string shared_secret;      // SK, 32 bytes
  std::string associated_data;    // AD, 66 bytes
  std::vector<std::string> dh;    // DH1..DH3[4], for test vectors
};

// Alice's side: checks the bundle, then computes SK and AD with her ephemeral key pair.
Result<X3dhResult> X3dhInitiate(const Identity& alice, const Bundle& bob,
                                const KeyPair& ephemeral);
// Bob's side: from his identity and prekey private keys and Alice's signing key and ephemeral key.
Result<X3dhResult> X3dhRespond(const Identity& bob, std::string_view signed_prekey_private,
                               std::string_view one_time_prekey_private,  // empty if none
                               std::string_view alice_signing_key,
                               std::string_view alice_ephemeral);

}  // namespace parley::sdk::crypto
