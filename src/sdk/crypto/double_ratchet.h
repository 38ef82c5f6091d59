// The Double Ratchet (https://signal.org/docs/specifications/doubleratchet/), exactly as in the
// spec's pseudocode, with:
//   GENERATE_DH: X25519 from 32 random bytes; DH: X25519 (invalid points rejected)
//   KDF_RK(rk, dh) = HKDF-SHA-256(salt = rk, IKM = dh, info = "parley.ratchet.root.v1", 64)
//                    → (rk' = [0,32), ck = [32,64))
//   KDF_CK(ck)     = (ck' = HMAC-SHA-256(ck, 0x02), mk = HMAC-SHA-256(ck, 0x01))
//   ENCRYPT(mk, pt, ad): k||n = HKDF-SHA-256(salt = 32 zero bytes, IKM = mk,
//                    info = "parley.ratchet.message.v1", 56); XChaCha20-Poly1305(k, n, pt, ad)
//   HEADER = DHs.public (32) || PN (u32 BE) || N (u32 BE);  AD = X3DH AD || HEADER
// Bounds: at most kMaxSkip message keys skipped in one chain per message, at most
// kMaxSkippedKeys stored (the oldest evicted).
//
// The functions take the state by value and return the next state only on success, so a caller
// commits state only after the AEAD verified (and a failure changes nothing).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "sdk/crypto/primitives.h"

namespace parley::sdk::crypto {

inline constexpr std::string_view kRatchetRootInfo = "parley.ratchet.root.v1";
inline constexpr std::string_view kRatchetMessageInfo = "parley.ratchet.message.v1";
inline constexpr uint32_t kMaxSkip = 1000;
inline constexpr size_t kMaxSkippedKeys = 2000;
inline constexpr size_t kMaxOldRatchetKeys = 8;  // previous DHr keys remembered to name replays
inline constexpr size_t kRatchetHeaderBytes = 40;

struct RatchetHeader {
  std::string dh;  // 32 bytes
  uint32_t pn = 0, n = 0;
  std::string Encode() const;
  static Result<RatchetHeader> Decode(std::string_view bytes);  // exactly 40 bytes
};

struct SkippedKey {
  std::string dh;
  uint32_t n = 0;
  std::string mk;
};

struct RatchetState {
  std::string dhs_private, dhs_public;
  std::string dhr;            // empty until the first message from the peer (Bob's side)
  std::string rk, cks, ckr;   // cks/ckr empty = None
  uint32_t ns = 0, nr = 0, pn = 0;
  std::vector<SkippedKey> skipped;       // oldest first
  std::vector<std::string> old_dhr;      // recent previous DHr, newest last
  std::string ad;                        // the X3DH associated data
};

std::string SerializeRatchet(const RatchetState& s);
Result<RatchetState> ParseRatchet(std::string_view bytes);

// The spec's KDFs, exposed for test vectors.
struct RootStep { std::string rk, ck; };
RootStep KdfRk(std::string_view rk, std::string_view dh_out);
struct ChainStep { std::string ck, mk; };
ChainStep KdfCk(std::string_view ck);
struct AeadKey { std::string key, nonce; };
AeadKey MessageKeyToAead(std::string_view mk, std::string_view info);

Result<RatchetState> RatchetInitAlice(std::string_view sk, std::string_view bob_dh_public,
                                      const RandomFn& random, std::string_view ad);
RatchetState RatchetInitBob(std::string_view sk, const KeyPair& bob_dh, std::string_view ad);

struct RatchetEncrypted {
  RatchetState state;
  RatchetHeader header;
  std::string ciphertext;
  std::string mk;  // for test vectors
};
Result<RatchetEncrypted> RatchetEncrypt(RatchetState s, std::string_view plaintext);

struct RatchetDecrypted {
  RatchetState state;
  std::string plaintext;
  std::string mk;  // for test vectors
};
// Errors: kConflict (replay: that message key was already used or discarded),
// kInvalidArgument (skip beyond kMaxSkip, malformed), kForbidden (authentication failed).
Result<RatchetDecrypted> RatchetDecrypt(RatchetState s, const RatchetHeader& header,
                                        std::string_view ciphertext, const RandomFn& random);

}  // namespace parley::sdk::crypto
