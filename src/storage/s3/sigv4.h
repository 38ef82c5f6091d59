// AWS Signature Version 4 (SigV4) for S3 requests, written from the specification
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html):
// canonical request → string to sign → signing key → signature, for the Authorization header and
// for presigned (query-string) URLs. SHA-256 and HMAC-SHA256 come from libsodium.
//
// Pure functions of their inputs (the time is a parameter), so the published AWS examples are
// their tests (sigv4_test.cc). Nothing here logs; a signature, a signing key or a secret must
// never be logged by callers either.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace parley::storage::s3 {

struct Credentials {
  std::string access_key;
  std::string secret_key;  // secret: never logged
  std::string region = "us-east-1";
};

// The hex SHA-256 of an empty payload (GET, HEAD, DELETE).
inline constexpr std::string_view kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// Hex (lowercase) SHA-256 of `bytes`.
Result<std::string> Sha256Hex(std::string_view bytes);
// Raw 32-byte HMAC-SHA256 of `message` under `key` (any key length).
Result<std::string> HmacSha256(std::string_view key, std::string_view message);
// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"),
// raw 32 bytes. `date` is YYYYMMDD.
Result<std::string> SigningKey(std::string_view secret, std::string_view date,
                               std::string_view region, std::string_view service);

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters (A-Z a-z 0-9 - _ . ~) stay,
// everything else becomes %XX (uppercase); '/' stays only if `keep_slash` (object key paths).
std::string UriEncode(std::string_view s, bool keep_slash);
// "YYYYMMDDTHHMMSSZ" (ISO 8601 basic, UTC) of a Unix time.
std::string AmzDate(int64_t unix_seconds);

// One request to sign. `path` is the absolute path, not yet encoded (e.g. "/bucket/key");
// `query` holds decoded names and values (a subresource such as "uploads" has an empty value);
// `headers` are the headers to sign (host included), any case; `payload_sha256` is the hex
// SHA-256 of the body, or "UNSIGNED-PAYLOAD".
struct SignableRequest {
  std::string method;
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload_sha256;
};

// The canonical query string: names and values encoded, sorted by name then value.
std::string CanonicalQueryString(const std::vector<std::pair<std::string, std::string>>& query);
// The canonical request (exposed for tests and debugging; contains no secret).
std::string CanonicalRequest(const SignableRequest& req, std::string* signed_headers);

// The Authorization header value for `req` at `amz_date` (which must also be the request's
// x-amz-date header, signed among `headers`), for `service` (e.g. "s3").
Result<std::string> AuthorizationHeader(const Credentials& creds, const SignableRequest& req,
                                        std::string_view amz_date, std::string_view service);

// The maximum lifetime of a presigned URL (SigV4: 7 days).
inline constexpr int64_t kMaxPresignSeconds = 7 * 24 * 3600;

// A presigned GET URL: `base` is scheme and authority ("http://host:port"), `host` the Host
// header a client will send (the authority), `path` the absolute path, not yet encoded.
// kInvalidArgument unless 1 <= expires_s <= kMaxPresignSeconds.
Result<std::string> PresignGetUrl(const Credentials& creds, std::string_view base,
                                  std::string_view host, std::string_view path,
                                  std::string_view amz_date, int64_t expires_s);

}  // namespace parley::storage::s3
