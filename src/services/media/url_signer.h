// Signed download links: anyone holding one may download that media variant until it expires,
// without a token (for <img src>, video players, sharing with a browser).
//
// The signature is HMAC-SHA-256, keyed with a 32-byte server secret, over
// "parley.media-url.v1\n" + media_id + "\n" + variant + "\n" + expires (decimal Unix seconds),
// sent base64url (no padding) as `sig`. Any change to the id, the variant or the expiry breaks
// it. Comparison is constant-time. Thread-safe after construction (const methods only).
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "common/result.h"

namespace parley::services {

class UrlSigner {
 public:
  // Loads the key from `key_path`, creating it (32 random bytes, mode 0600) if absent.
  static Result<UrlSigner> LoadOrCreate(const std::string& key_path);
  // From a raw 32-byte key (tests). Any other size is a programmer error.
  static UrlSigner FromKey(std::string_view key32);

  // The signature of (media_id, variant, expires_s), base64url.
  std::string Sign(std::string_view media_id, std::string_view variant, int64_t expires_s) const;
  // The path and query of a link to media_id's `variant` ("original" or "thumbnail") that works
  // until expires_s: /v1/download/ID?[variant=thumbnail&]expires=E&sig=S
  std::string SignedPath(std::string_view media_id, std::string_view variant,
                         int64_t expires_s) const;
  // kForbidden unless `sig` is the signature of (media_id, variant, expires) and `expires`, a
  // decimal number of seconds, is not before now_s.
  Status Verify(std::string_view media_id, std::string_view variant, std::string_view expires,
                std::string_view sig, int64_t now_s) const;

 private:
  explicit UrlSigner(std::string_view key32);
  std::string Mac(std::string_view media_id, std::string_view variant, int64_t expires_s) const;

  std::array<unsigned char, 32> key_{};  // never logged
};

}  // namespace parley::services
