// Access tokens: JWT (RFC 7519) signed with Ed25519 (alg "EdDSA", RFC 8037).
//
// The algorithm is pinned: a token whose header says anything but EdDSA is rejected before any
// key is touched, so "none" and algorithm confusion cannot pass. `kid` picks the verifying key.
// Thread-safe after construction (const methods only).
#pragma once

#include <boost/json/object.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace parley::auth {

struct Claims {
  std::string sub;  // user_id
  std::string did;  // device_id
  std::string jti;
  int64_t iat = 0;  // seconds
  int64_t exp = 0;  // seconds
};

class JwtSigner {
 public:
  // Loads the Ed25519 signing key from `key_path`, creating it (mode 0600) if absent.
  static Result<JwtSigner> LoadOrCreate(const std::string& key_path, std::string issuer);
  // From a raw 32-byte seed (tests, vectors).
  static JwtSigner FromSeed(std::string_view seed32, std::string issuer);

  std::string Sign(const Claims& claims) const;
  // kUnauthenticated for anything but a well-formed, correctly signed, unexpired token of ours.
  Result<Claims> Verify(std::string_view token, int64_t now_seconds) const;
  // {"keys":[{kty:"OKP", crv:"Ed25519", x, kid, alg:"EdDSA", use:"sig"}]}
  boost::json::object Jwks() const;
  const std::string& kid() const { return kid_; }

 private:
  JwtSigner(std::string secret_key, std::string public_key, std::string issuer);

  std::string secret_key_;  // libsodium's 64-byte Ed25519 secret key
  std::string public_key_;
  std::string kid_;
  std::string issuer_;
};

}  // namespace parley::auth
