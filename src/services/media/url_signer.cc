#include "services/media/url_signer.h"

#include <sodium.h>

#include <algorithm>
#include <cassert>
#include <charconv>

#include "common/encoding.h"
#include "common/secret_file.h"

namespace parley::services {
namespace {

constexpr size_t kKeyBytes = crypto_auth_hmacsha256_KEYBYTES;
static_assert(kKeyBytes == 32);

Error Forbidden(std::string why) { return MakeError(ErrorCode::kForbidden, std::move(why)); }

}  // namespace

UrlSigner::UrlSigner(std::string_view key32) {
  assert(key32.size() == key_.size());
  std::copy_n(key32.begin(), std::min(key32.size(), key_.size()), key_.begin());
}

Result<UrlSigner> UrlSigner::LoadOrCreate(const std::string& key_path) {
  auto stored = ReadSecretFile(key_path);
  if (!stored.ok()) return stored.error();
  std::string key;
  if (stored->has_value()) {
    key = std::move(**stored);
  } else {
    key = RandomBytes(kKeyBytes);
    PARLEY_TRY(WriteNewSecretFile(key_path, key));
  }
  if (key.size() != kKeyBytes) {
    return MakeError(ErrorCode::kInternal, key_path + " is not a 32-byte key");
  }
  return UrlSigner(key);
}

UrlSigner UrlSigner::FromKey(std::string_view key32) { return UrlSigner(key32); }

std::string UrlSigner::Mac(std::string_view media_id, std::string_view variant,
                           int64_t expires_s) const {
  std::string msg = "parley.media-url.v1\n";
  msg.append(media_id).append("\n").append(variant).append("\n").append(std::to_string(expires_s));
  std::string mac(crypto_auth_hmacsha256_BYTES, '\0');
  int rc = crypto_auth_hmacsha256(reinterpret_cast<unsigned char*>(mac.data()),
                                  reinterpret_cast<const unsigned char*>(msg.data()), msg.size(),
                                  key_.data());
  if (rc != 0) mac.clear();  // never matches a 32-byte signature
  return mac;
}

std::string UrlSigner::Sign(std::string_view media_id, std::string_view variant,
                            int64_t expires_s) const {
  return Base64UrlEncode(Mac(media_id, variant, expires_s));
}

std::string UrlSigner::SignedPath(std::string_view media_id, std::string_view variant,
                                  int64_t expires_s) const {
  std::string path = "/v1/download/" + std::string(media_id) + "?";
  if (variant != "original") path += "variant=" + std::string(variant) + "&";
  path += "expires=" + std::to_string(expires_s) + "&sig=" + Sign(media_id, variant, expires_s);
  return path;
}

Status UrlSigner::Verify(std::string_view media_id, std::string_view variant,
                         std::string_view expires, std::string_view sig, int64_t now_s) const {
  // Canonical decimal only, so that one expiry has exactly one spelling.
  if (expires.empty() || expires.size() > 12 || (expires.size() > 1 && expires[0] == '0')) {
    return Forbidden("malformed link");
  }
  int64_t exp = 0;
  auto [ptr, ec] = std::from_chars(expires.data(), expires.data() + expires.size(), exp);
  if (ec != std::errc() || ptr != expires.data() + expires.size()) {
    return Forbidden("malformed link");
  }
  // Compared as text, not decoded: base64url has spellings that differ only in unused bits, and
  // a changed character must never verify.
  std::string want = Sign(media_id, variant, exp);
  if (want.size() != 43 || sig.size() != want.size() ||
      sodium_memcmp(want.data(), sig.data(), want.size()) != 0) {
    return Forbidden("invalid link signature");
  }
  if (exp < now_s) return Forbidden("link expired");
  return OkStatus();
}

}  // namespace parley::services
