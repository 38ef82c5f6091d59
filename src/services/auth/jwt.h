// Access tokens: JWT (RFC 7519) signed with Ed25519 (alg "EdDSA", RFC 8037).
//
// The algorithm is pinned: a token whose header says anything but EdDSA is rejected before any
// key is touched, so "none" and algorithm confusion cannot pass. `kid` picks the verifying key:
// the signing key, or the previous one (kept after a rotation until the tokens it signed have
// expired). Thread-safe after construction (const methods only).
#pragma once

#include <boost/json/object.hpp>

#include <optional>
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

// The longest an access token lives (Config::access_token_ttl_s is at most this).
constexpr int64_t kMaxAccessTokenTtlS = 900;

class JwtSigner {
 public:
  // Loads the Ed25519 signing key from `key_path`, creating it (mode 0600) if absent. If
  // `key_path`.previous exists (left by RotateKeyFile), its key also verifies tokens, until
  // `previous_valid_until` (seconds; 0 = ignore the previous key).
  static Result<JwtSigner> LoadOrCreate(const std::string& key_path, std::string issuer,
                                        int64_t previous_valid_until = 0);
  // Moves the key at `key_path` to `key_path`.previous (replacing an older one) and writes a new
  // key in its place. Running servers keep their keys; the next start uses the new one.
  static Status RotateKeyFile(const std::string& key_path);
  // From a raw 32-byte seed (tests, vectors).
  static JwtSigner FromSeed(std::string_view seed32, std::string issuer);

  std::string Sign(const Claims& claims) const;
  // kUnauthenticated for anything but a well-formed, correctly signed, unexpired token of ours.
  Result<Claims> Verify(std::string_view token, int64_t now_seconds) const;
  // {"keys":[{kty:"OKP", crv:"Ed25519", x, kid, alg:"EdDSA", use:"sig"}, …]}: the signing key
  // first, then the previous key while it still verifies at `now_seconds`.
  boost::json::object Jwks(int64_t now_seconds) const;
  const std::string& kid() const { return kid_; }

 private:
  struct VerifyKey {
    std::string kid;
    std::string public_key;
    int64_t valid_until = 0;  // seconds; tokens verified with this key are refused from then
  };

  JwtSigner(std::string secret_key, std::string public_key, std::string issuer);
  static std::string KidOf(const std::string& public_key);

  std::string secret_key_;  // libsodium's 64-byte Ed25519 secret key
  std::string public_key_;
  std::string kid_;
  std::string issuer_;
  std::optional<VerifyKey> previous_;
};

}  // namespace parley::auth
