#include "services/auth/jwt.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>

#include "common/encoding.h"
#include "common/ids.h"

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
  kid_ = Base64UrlEncode(Sha256(public_key_).substr(0, 12));
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

Result<JwtSigner> JwtSigner::LoadOrCreate(const std::string& key_path, std::string issuer) {
  std::string seed;
  {
    std::ifstream in(key_path, std::ios::binary);
    if (in) seed.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (seed.empty()) {
    seed = RandomBytes(crypto_sign_SEEDBYTES);
    int fd = ::open(key_path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) return MakeError(ErrorCode::kUnavailable, "cannot create " + key_path);
    bool ok = ::write(fd, seed.data(), seed.size()) == static_cast<ssize_t>(seed.size()) &&
              ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) return MakeError(ErrorCode::kUnavailable, "cannot write " + key_path);
  }
  if (seed.size() != crypto_sign_SEEDBYTES) {
    return MakeError(ErrorCode::kInternal, key_path + " is not a 32-byte Ed25519 seed");
  }
  return FromSeed(seed, std::move(issuer));
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
  if (StrField(*header, "kid") != kid_) return Unauth("unknown signing key");
  auto sig = Base64UrlDecode(token.substr(d2 + 1));
  if (!sig || sig->size() != crypto_sign_BYTES) return Unauth("bad token signature");
  if (crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig->data()),
                                  reinterpret_cast<const unsigned char*>(token.data()), d2,
                                  reinterpret_cast<const unsigned char*>(public_key_.data())) != 0) {
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

boost::json::object JwtSigner::Jwks() const {
  boost::json::object key{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", Base64UrlEncode(public_key_)},
                          {"kid", kid_},  {"alg", "EdDSA"},   {"use", "sig"}};
  return {{"keys", boost::json::array{key}}};
}

}  // namespace parley::auth
