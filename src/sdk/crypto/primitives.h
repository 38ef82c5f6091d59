// The cryptographic primitives of the E2EE protocol, as thin checked wrappers over libsodium.
// Only functions that libsodium-wrappers-sumo also exposes are used, so the TypeScript twin can
// mirror this file one to one. Byte strings are std::string (raw bytes, not text).
//
// Every function checks libsodium's return code; the ones that can fail on attacker-controlled
// input (a low-order point, a forged signature, a tampered ciphertext) return Result/bool.
// Thread-safe (libsodium is, once sodium_init() ran).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace parley::sdk::crypto {

inline constexpr size_t kKeyBytes = 32;        // X25519 keys, Ed25519 public keys and seeds, chain keys
inline constexpr size_t kSignatureBytes = 64;  // Ed25519
inline constexpr size_t kAeadKeyBytes = 32;    // XChaCha20-Poly1305-IETF
inline constexpr size_t kAeadNonceBytes = 24;
inline constexpr size_t kAeadTagBytes = 16;

// A source of random bytes. Production code uses SystemRandom (randombytes_buf); tests and the
// vector generator inject a deterministic one so every key is reproducible.
using RandomFn = std::function<std::string(size_t n)>;
RandomFn SystemRandom();

// Overwrites the bytes with zeros (sodium_memzero) and empties the string.
void Wipe(std::string& secret);

// --- Hashes, MAC, KDF ---------------------------------------------------------------------------
std::string Sha256(std::string_view data);
std::string Sha512(std::string_view data);
// HMAC-SHA-256 with a key of any length (RFC 2104 via crypto_auth_hmacsha256_init).
std::string HmacSha256(std::string_view key, std::string_view data);
// HKDF-SHA-256 (RFC 5869): extract with `salt` (empty = 32 zero bytes), expand to `length`
// (≤ 255·32) bytes with `info`. Built from HMAC-SHA-256 so both SDKs compute it the same way.
std::string HkdfSha256(std::string_view salt, std::string_view ikm, std::string_view info,
                       size_t length);

// --- X25519 -------------------------------------------------------------------------------------
struct KeyPair {
  std::string public_key;   // 32 bytes
  std::string private_key;  // 32 bytes (X25519 scalar, clamped by X25519 itself; Ed25519 seed)
};
// The public key of an X25519 private key (crypto_scalarmult_base).
std::string X25519PublicKey(std::string_view private_key);
// A fresh X25519 key pair whose private key is 32 bytes from `random`.
KeyPair GenerateX25519(const RandomFn& random);
// X25519(private, public). kInvalidArgument for a wrong length or when the result is all zero
// (a low-order or otherwise invalid point: crypto_scalarmult returns non-zero).
Result<std::string> X25519(std::string_view private_key, std::string_view public_key);

// --- Ed25519 ------------------------------------------------------------------------------------
// The Ed25519 key pair of a 32-byte seed (RFC 8032). private_key holds the seed.
KeyPair Ed25519FromSeed(std::string_view seed);
// RFC 8032 Ed25519 signature (deterministic) of `message` with the key pair of `seed`.
std::string Ed25519Sign(std::string_view seed, std::string_view message);
// false on a bad signature, a bad length or a non-canonical/small-order public key.
bool Ed25519Verify(std::string_view public_key, std::string_view message,
                   std::string_view signature);
// crypto_sign_ed25519_pk_to_curve25519: kInvalidArgument for a key that is not a valid point.
Result<std::string> Ed25519PublicToX25519(std::string_view ed25519_public);
// crypto_sign_ed25519_sk_to_curve25519 of the key pair of `seed` (= clamp(SHA-512(seed)[0..32])).
std::string Ed25519SeedToX25519Private(std::string_view seed);

// --- AEAD ---------------------------------------------------------------------------------------
// XChaCha20-Poly1305-IETF: ciphertext || 16-byte tag.
std::string AeadEncrypt(std::string_view key, std::string_view nonce, std::string_view plaintext,
                        std::string_view ad);
// kForbidden when the tag does not verify (tampered, wrong key or AD), kInvalidArgument for bad
// lengths.
Result<std::string> AeadDecrypt(std::string_view key, std::string_view nonce,
                                std::string_view ciphertext, std::string_view ad);

// --- Encodings ----------------------------------------------------------------------------------
// Standard base64 with padding (RFC 4648 §4), the wire encoding of keys and E2EE bodies.
std::string Base64Encode(std::string_view bytes);
// std::nullopt unless `text` is canonical standard base64 (no whitespace, padding required).
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace parley::sdk::crypto
