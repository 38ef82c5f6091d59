#include "services/auth/jwt.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>

#include "common/encoding.h"
#include "common/ids.h"
#include "common/secret_file.h"

namespace parley::auth {
namespace {

constexpr size_t kMaxTokenBytes = 4096;

Error Unauth(std::string why) { return MakeError(ErrorCode::kUnauthenticated, std::move(why)); }

Result<boost::json::object> DecodeJsonPart(std::string_view part) {
  auto bytes = Base64UrlDecode(part);
  if (!bytes) return Unauth("malformed token");
  boost::system::error_code ec;
  auto v = boost::json::parse(*bytes, ec);
  if (ec || !v.is_object()) return Unauth("malformed token");
  return std::move(v.as_object());
}

std::optional<int64_t> IntField(const boost::json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  if (!v || !v->is_int64()) return std::nullopt;
  return v->as_int64();
}

std::optional<std::string> StrField(const boost::json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string(v->as_string());
}

}  // namespace

JwtSigner::JwtSigner(std::string secret_key, std::string public_key, std::string issuer)
    : secret_key_(std::move(secret_key)), public_key_(std::move(public_key)),
      issuer_(std::move(issuer)) {
  kid_ = KidOf(public_key_);
}

std::string JwtSigner::KidOf(const std::string& public_key) {
  return Base64UrlEncode(Sha256(public_key).substr(0, 12));
}

JwtSigner JwtSigner::FromSeed(std::string_view seed32, std::string issuer) {
  std::string pk(crypto_sign_PUBLICKEYBYTES, '\0'), sk(crypto_sign_SECRETKEYBYTES, '\0');
  // Only fails on a seed of the wrong size, which is a programmer error.
  int rc = crypto_sign_seed_keypair(reinterpret_cast<unsigned char*>(pk.data()),
                                    reinterpret_cast<unsigned char*>(sk.data()),
                                    reinterpret_cast<const unsigned char*>(seed32.data()));
  assert(rc == 0 && seed32.size() == crypto_sign_SEEDBYTES);
  (void)rc;
  return JwtSigner(std::move(sk), std::move(pk), std::move(issuer));
}

namespace {

// The 32-byte seed in `path`: nullopt if the file does not exist, an error if it is not a seed
// or other users may access it.
Result<std::optional<std::string>> ReadSeed(const std::string& path) {
  auto seed = ReadSecretFile(path);
  if (!seed.ok() || !seed->has_value()) return seed;
  if ((*seed)->size() != crypto_sign_SEEDBYTES) {
    return MakeError(ErrorCode::kInternal, path + " is not a 32-byte Ed25519 seed");
  }
  return seed;
}

// Writes a new random seed to `path` (mode 0600), which must not exist.
Result<std::string> WriteNewSeed(const std::string& path) {
  std::string seed = RandomBytes(crypto_sign_SEEDBYTES);
  PARLEY_TRY(WriteNewSecretFile(path, seed));
  return seed;
}

std::string PublicKeyOf(const std::string& seed) {
  std::string pk(crypto_sign_PUBLICKEYBYTES, '\0'), sk(crypto_sign_SECRETKEYBYTES, '\0');
  crypto_sign_seed_keypair(reinterpret_cast<unsigned char*>(pk.data()),
                           reinterpret_cast<unsigned char*>(sk.data()),
                           reinterpret_cast<const unsigned char*>(seed.data()));
  sodium_memzero(sk.data(), sk.size());
  return pk;
}

}  // namespace

Result<JwtSigner> JwtSigner::LoadOrCreate(const std::string& key_path, std::string issuer,
                                          int64_t previous_valid_until) {
  auto seed = ReadSeed(key_path);
  if (!seed.ok()) return seed.error();
  if (!seed->has_value()) {
    auto created = WriteNewSeed(key_path);
    if (!created.ok()) return created.error();
    *seed = std::move(*created);
  }
  JwtSigner signer = FromSeed(**seed, std::move(issuer));
  if (previous_valid_until > 0) {
    auto previous = ReadSeed(key_path + ".previous");
    if (!previous.ok()) return previous.error();
    if (previous->has_value()) {
      std::string pk = PublicKeyOf(**previous);
      if (pk != signer.public_key_) signer.previous_ = VerifyKey{KidOf(pk), pk, previous_valid_until};
    }
  }
  return signer;
}

Status JwtSigner::RotateKeyFile(const std::string& key_path) {
  // New key beside the old, then two renames: a crash in between leaves either the old key in
  // place or the old key as .previous (the next start then creates a fresh current key).
  std::string fresh = key_path + ".new";
  ::unlink(fresh.c_str());
  auto seed = WriteNewSeed(fresh);
  if (!seed.ok()) return seed.error();
  if (::access(key_path.c_str(), F_OK) == 0 &&
      ::rename(key_path.c_str(), (key_path + ".previous").c_str()) != 0) {
    return MakeError(ErrorCode::kUnavailable, "cannot move " + key_path + " aside");
  }
  if (::rename(fresh.c_str(), key_path.c_str()) != 0) {
    return MakeError(ErrorCode::kUnavailable, "cannot install the new key at " + key_path);
  }
  std::string dir = key_path.substr(0, key_path.rfind('/') + 1);
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return OkStatus();
}

std::string JwtSigner::Sign(const Claims& c) const {
  boost::json::object header{{"alg", "EdDSA"}, {"typ", "JWT"}, {"kid", kid_}};
  boost::json::object payload{{"iss", issuer_}, {"sub", c.sub}, {"did", c.did},
                              {"iat", c.iat},   {"exp", c.exp}, {"jti", c.jti}};
  std::string input = Base64UrlEncode(boost::json::serialize(header)) + "." +
                      Base64UrlEncode(boost::json::serialize(payload));
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(input.data()),
                       input.size(), reinterpret_cast<const unsigned char*>(secret_key_.data()));
  return input + "." + Base64UrlEncode(std::string_view(reinterpret_cast<char*>(sig), sizeof sig));
}

Result<Claims> JwtSigner::Verify(std::string_view token, int64_t now) const {
  if (token.empty() || token.size() > kMaxTokenBytes) return Unauth("malformed token");
  size_t d1 = token.find('.');
  if (d1 == std::string_view::npos) return Unauth("malformed token");
  size_t d2 = token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
    return Unauth("malformed token");
  auto header = DecodeJsonPart(token.substr(0, d1));
  if (!header.ok()) return header.error();
  // Pinned algorithm: checked before anything else.
  if (StrField(*header, "alg") != "EdDSA") return Unauth("token algorithm not accepted");
  auto typ = header->if_contains("typ");
  if (typ && (!typ->is_string() || typ->as_string() != "JWT")) return Unauth("malformed token");
  auto kid = StrField(*header, "kid");
  const std::string* verify_key = nullptr;
  if (kid == kid_) {
    verify_key = &public_key_;
  } else if (previous_ && kid == previous_->kid && now < previous_->valid_until) {
    verify_key = &previous_->public_key;
  }
  if (!verify_key) return Unauth("unknown signing key");
  auto sig = Base64UrlDecode(token.substr(d2 + 1));
  if (!sig || sig->size() != crypto_sign_BYTES) return Unauth("bad token signature");
  if (crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig->data()),
                                  reinterpret_cast<const unsigned char*>(token.data()), d2,
                                  reinterpret_cast<const unsigned char*>(verify_key->data())) != 0) {
    return Unauth("bad token signature");
  }
  auto payload = DecodeJsonPart(token.substr(d1 + 1, d2 - d1 - 1));
  if (!payload.ok()) return payload.error();
  Claims c;
  auto iss = StrField(*payload, "iss");
  auto sub = StrField(*payload, "sub");
  auto did = StrField(*payload, "did");
  auto jti = StrField(*payload, "jti");
  auto iat = IntField(*payload, "iat");
  auto exp = IntField(*payload, "exp");
  if (!iss || !sub || !did || !jti || !iat || !exp) return Unauth("malformed token");
  if (*iss != issuer_) return Unauth("token from another issuer");
  if (*exp <= now) return Unauth("token expired");
  if (*iat > now + 60) return Unauth("token issued in the future");
  if (!IsUuid(*sub) || !IsUuid(*did)) return Unauth("malformed token");
  c.sub = *sub;
  c.did = *did;
  c.jti = *jti;
  c.iat = *iat;
  c.exp = *exp;
  return c;
}

boost::json::object JwtSigner::Jwks(int64_t now) const {
  auto jwk = [](const std::string& public_key, const std::string& kid) {
    return boost::json::object{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", Base64UrlEncode(public_key)},
                               {"kid", kid},   {"alg", "EdDSA"},   {"use", "sig"}};
  };
  boost::json::array keys{jwk(public_key_, kid_)};
  if (previous_ && now < previous_->valid_until) keys.push_back(jwk(previous_->public_key, previous_->kid));
  return {{"keys", std::move(keys)}};
}

}  // namespace parley::auth
