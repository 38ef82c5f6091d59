#include "storage/s3/sigv4.h"

#include <sodium.h>

#include <algorithm>
#include <ctime>

#include "common/encoding.h"

namespace parley::storage::s3 {
namespace {

Error CryptoFailed(std::string_view what) {
  return MakeError(ErrorCode::kInternal, "libsodium " + std::string(what) + " failed");
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Header values: leading and trailing spaces removed, inner runs of spaces made one.
std::string TrimValue(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

Result<std::string> Sign(const Credentials& creds, std::string_view amz_date,
                         std::string_view scope, std::string_view service,
                         const std::string& canonical_request) {
  auto hash = Sha256Hex(canonical_request);
  if (!hash.ok()) return hash.error();
  std::string to_sign = std::string(kAlgorithm) + "\n" + std::string(amz_date) + "\n" +
                        std::string(scope) + "\n" + *hash;
  auto key = SigningKey(creds.secret_key, amz_date.substr(0, 8), creds.region, service);
  if (!key.ok()) return key.error();
  auto sig = HmacSha256(*key, to_sign);
  sodium_memzero(key->data(), key->size());
  if (!sig.ok()) return sig.error();
  return HexEncode(*sig);
}

std::string Scope(const Credentials& creds, std::string_view amz_date, std::string_view service) {
  return std::string(amz_date.substr(0, 8)) + "/" + creds.region + "/" + std::string(service) +
         "/aws4_request";
}

}  // namespace

Result<std::string> Sha256Hex(std::string_view bytes) {
  unsigned char out[crypto_hash_sha256_BYTES];
  if (crypto_hash_sha256(out, reinterpret_cast<const unsigned char*>(bytes.data()),
                         bytes.size()) != 0)
    return CryptoFailed("crypto_hash_sha256");
  return HexEncode(std::string_view(reinterpret_cast<const char*>(out), sizeof out));
}

Result<std::string> HmacSha256(std::string_view key, std::string_view message) {
  // The one-shot crypto_auth_hmacsha256 takes 32-byte keys only; "AWS4" + secret is longer.
  crypto_auth_hmacsha256_state st;
  unsigned char out[crypto_auth_hmacsha256_BYTES];
  if (crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()),
                                  key.size()) != 0)
    return CryptoFailed("crypto_auth_hmacsha256_init");
  if (crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(message.data()),
                                    message.size()) != 0)
    return CryptoFailed("crypto_auth_hmacsha256_update");
  if (crypto_auth_hmacsha256_final(&st, out) != 0) return CryptoFailed("crypto_auth_hmacsha256_final");
  sodium_memzero(&st, sizeof st);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

Result<std::string> SigningKey(std::string_view secret, std::string_view date,
                               std::string_view region, std::string_view service) {
  std::string k = "AWS4" + std::string(secret);
  auto step = HmacSha256(k, date);
  sodium_memzero(k.data(), k.size());
  for (std::string_view part : {region, service, std::string_view("aws4_request")}) {
    if (!step.ok()) return step.error();
    std::string prev = std::move(*step);
    step = HmacSha256(prev, part);
    sodium_memzero(prev.data(), prev.size());
  }
  return step;
}

std::string UriEncode(std::string_view s, bool keep_slash) { return PercentEncode(s, keep_slash); }

std::string AmzDate(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string CanonicalQueryString(const std::vector<std::pair<std::string, std::string>>& query) {
  std::vector<std::pair<std::string, std::string>> enc;
  enc.reserve(query.size());
  for (const auto& [k, v] : query) enc.emplace_back(UriEncode(k, false), UriEncode(v, false));
  std::sort(enc.begin(), enc.end());
  std::string out;
  for (const auto& [k, v] : enc) {
    if (!out.empty()) out += '&';
    out += k + "=" + v;
  }
  return out;
}

std::string CanonicalRequest(const SignableRequest& req, std::string* signed_headers) {
  std::vector<std::pair<std::string, std::string>> headers;
  headers.reserve(req.headers.size());
  for (const auto& [k, v] : req.headers) headers.emplace_back(Lower(k), TrimValue(v));
  std::sort(headers.begin(), headers.end());
  std::string canonical_headers, names;
  for (size_t i = 0; i < headers.size(); ++i) {
    // Repeated headers are one line, values comma-separated.
    if (i > 0 && headers[i].first == headers[i - 1].first) {
      canonical_headers.back() = ',';
      canonical_headers += headers[i].second + "\n";
      continue;
    }
    canonical_headers += headers[i].first + ":" + headers[i].second + "\n";
    if (!names.empty()) names += ';';
    names += headers[i].first;
  }
  if (signed_headers) *signed_headers = names;
  return req.method + "\n" + UriEncode(req.path, true) + "\n" + CanonicalQueryString(req.query) +
         "\n" + canonical_headers + "\n" + names + "\n" + req.payload_sha256;
}

Result<std::string> AuthorizationHeader(const Credentials& creds, const SignableRequest& req,
                                        std::string_view amz_date, std::string_view service) {
  std::string signed_headers;
  std::string canonical = CanonicalRequest(req, &signed_headers);
  std::string scope = Scope(creds, amz_date, service);
  auto sig = Sign(creds, amz_date, scope, service, canonical);
  if (!sig.ok()) return sig.error();
  return std::string(kAlgorithm) + " Credential=" + creds.access_key + "/" + scope +
         ",SignedHeaders=" + signed_headers + ",Signature=" + *sig;
}

Result<std::string> PresignGetUrl(const Credentials& creds, std::string_view base,
                                  std::string_view host, std::string_view path,
                                  std::string_view amz_date, int64_t expires_s) {
  if (expires_s < 1 || expires_s > kMaxPresignSeconds)
    return MakeError(ErrorCode::kInvalidArgument, "a presigned URL lives 1 s to 7 days");
  std::string scope = Scope(creds, amz_date, "s3");
  SignableRequest req;
  req.method = "GET";
  req.path = std::string(path);
  req.query = {{"X-Amz-Algorithm", std::string(kAlgorithm)},
               {"X-Amz-Credential", creds.access_key + "/" + scope},
               {"X-Amz-Date", std::string(amz_date)},
               {"X-Amz-Expires", std::to_string(expires_s)},
               {"X-Amz-SignedHeaders", "host"}};
  req.headers = {{"host", std::string(host)}};
  req.payload_sha256 = "UNSIGNED-PAYLOAD";
  auto sig = Sign(creds, amz_date, scope, "s3", CanonicalRequest(req, nullptr));
  if (!sig.ok()) return sig.error();
  return std::string(base) + UriEncode(path, true) + "?" + CanonicalQueryString(req.query) +
         "&X-Amz-Signature=" + *sig;
}

}  // namespace parley::storage::s3
