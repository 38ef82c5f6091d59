#include "sdk/crypto/primitives.h"

#include <sodium.h>

#include <cstdlib>

namespace parley::sdk::crypto {
namespace {

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* U(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

// A libsodium call that cannot fail on valid lengths failed: a broken library, not bad input.
void Check(int rc) {
  if (rc != 0) std::abort();
}

}  // namespace

RandomFn SystemRandom() {
  return [](size_t n) {
    std::string out(n, '\0');
    randombytes_buf(out.data(), n);
    return out;
  };
}

void Wipe(std::string& secret) {
  if (!secret.empty()) sodium_memzero(secret.data(), secret.size());
  secret.clear();
}

std::string Sha256(std::string_view data) {
  std::string out(crypto_hash_sha256_BYTES, '\0');
  Check(crypto_hash_sha256(U(out), U(data), data.size()));
  return out;
}

std::string Sha512(std::string_view data) {
  std::string out(crypto_hash_sha512_BYTES, '\0');
  Check(crypto_hash_sha512(U(out), U(data), data.size()));
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  crypto_auth_hmacsha256_state st;
  std::string out(crypto_auth_hmacsha256_BYTES, '\0');
  Check(crypto_auth_hmacsha256_init(&st, U(key), key.size()));
  Check(crypto_auth_hmacsha256_update(&st, U(data), data.size()));
  Check(crypto_auth_hmacsha256_final(&st, U(out)));
  sodium_memzero(&st, sizeof st);
  return out;
}

std::string HkdfSha256(std::string_view salt, std::string_view ikm, std::string_view info,
                       size_t length) {
  if (length > 255 * 32) std::abort();  // programmer error: every caller uses a constant
  std::string zero_salt(32, '\0');
  std::string prk = HmacSha256(salt.empty() ? std::string_view(zero_salt) : salt, ikm);
  std::string out, t;
  for (uint8_t i = 1; out.size() < length; ++i) {
    std::string block = t;
    block.append(info);
    block.push_back(static_cast<char>(i));
    t = HmacSha256(prk, block);
    Wipe(block);
    out.append(t);
  }
  Wipe(prk);
  Wipe(t);
  out.resize(length);
  return out;
}

std::string X25519PublicKey(std::string_view private_key) {
  if (private_key.size() != kKeyBytes) std::abort();
  std::string pub(kKeyBytes, '\0');
  Check(crypto_scalarmult_base(U(pub), U(private_key)));
  return pub;
}

KeyPair GenerateX25519(const RandomFn& random) {
  KeyPair kp;
  kp.private_key = random(kKeyBytes);
  kp.public_key = X25519PublicKey(kp.private_key);
  return kp;
}

Result<std::string> X25519(std::string_view private_key, std::string_view public_key) {
  if (private_key.size() != kKeyBytes || public_key.size() != kKeyBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "x25519: bad key length");
  }
  std::string out(kKeyBytes, '\0');
  if (crypto_scalarmult(U(out), U(private_key), U(public_key)) != 0) {
    return MakeError(ErrorCode::kInvalidArgument, "x25519: invalid (low-order) public key");
  }
  return out;
}

KeyPair Ed25519FromSeed(std::string_view seed) {
  if (seed.size() != kKeyBytes) std::abort();
  std::string pk(crypto_sign_PUBLICKEYBYTES, '\0'), sk(crypto_sign_SECRETKEYBYTES, '\0');
  Check(crypto_sign_seed_keypair(U(pk), U(sk), U(seed)));
  Wipe(sk);
  return KeyPair{pk, std::string(seed)};
}

std::string Ed25519Sign(std::string_view seed, std::string_view message) {
  if (seed.size() != kKeyBytes) std::abort();
  std::string pk(crypto_sign_PUBLICKEYBYTES, '\0'), sk(crypto_sign_SECRETKEYBYTES, '\0');
  Check(crypto_sign_seed_keypair(U(pk), U(sk), U(seed)));
  std::string sig(crypto_sign_BYTES, '\0');
  Check(crypto_sign_detached(U(sig), nullptr, U(message), message.size(), U(sk)));
  Wipe(sk);
  return sig;
}

bool Ed25519Verify(std::string_view public_key, std::string_view message,
                   std::string_view signature) {
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES || signature.size() != crypto_sign_BYTES) {
    return false;
  }
  return crypto_sign_verify_detached(U(signature), U(message), message.size(), U(public_key)) == 0;
}

Result<std::string> Ed25519PublicToX25519(std::string_view ed25519_public) {
  if (ed25519_public.size() != crypto_sign_PUBLICKEYBYTES) {
    return MakeError(ErrorCode::kInvalidArgument, "ed25519: bad public key length");
  }
  std::string out(kKeyBytes, '\0');
  if (crypto_sign_ed25519_pk_to_curve25519(U(out), U(ed25519_public)) != 0) {
    return MakeError(ErrorCode::kInvalidArgument, "ed25519: invalid public key");
  }
  return out;
}

std::string Ed25519SeedToX25519Private(std::string_view seed) {
  if (seed.size() != kKeyBytes) std::abort();
  std::string pk(crypto_sign_PUBLICKEYBYTES, '\0'), sk(crypto_sign_SECRETKEYBYTES, '\0');
  Check(crypto_sign_seed_keypair(U(pk), U(sk), U(seed)));
  std::string out(kKeyBytes, '\0');
  Check(crypto_sign_ed25519_sk_to_curve25519(U(out), U(sk)));
  Wipe(sk);
  return out;
}

std::string AeadEncrypt(std::string_view key, std::string_view nonce, std::string_view plaintext,
                        std::string_view ad) {
  if (key.size() != kAeadKeyBytes || nonce.size() != kAeadNonceBytes) std::abort();
  std::string out(plaintext.size() + kAeadTagBytes, '\0');
  unsigned long long len = 0;
  Check(crypto_aead_xchacha20poly1305_ietf_encrypt(U(out), &len, U(plaintext), plaintext.size(),
                                                   U(ad), ad.size(), nullptr, U(nonce), U(key)));
  out.resize(len);
  return out;
}

Result<std::string> AeadDecrypt(std::string_view key, std::string_view nonce,
                                std::string_view ciphertext, std::string_view ad) {
  if (key.size() != kAeadKeyBytes || nonce.size() != kAeadNonceBytes ||
      ciphertext.size() < kAeadTagBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "aead: bad length");
  }
  std::string out(ciphertext.size() - kAeadTagBytes, '\0');
  unsigned long long len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(U(out), &len, nullptr, U(ciphertext),
                                                 ciphertext.size(), U(ad), ad.size(), U(nonce),
                                                 U(key)) != 0) {
    return MakeError(ErrorCode::kForbidden, "aead: authentication failed");
  }
  out.resize(len);
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  constexpr int kVariant = sodium_base64_VARIANT_ORIGINAL;
  std::string out(sodium_base64_encoded_len(bytes.size(), kVariant), '\0');
  sodium_bin2base64(out.data(), out.size(), U(bytes), bytes.size(), kVariant);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  std::string out(text.size() / 4 * 3 + 3, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(U(out), out.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(len);
  if (Base64Encode(out) != text) return std::nullopt;  // non-canonical (stray bits)
  return out;
}

}  // namespace parley::sdk::crypto
