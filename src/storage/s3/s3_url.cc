#include "storage/s3/s3_url.h"

#include <charconv>

namespace parley::storage::s3 {
namespace {

Error Bad(std::string why) {
  return MakeError(ErrorCode::kInvalidArgument,
                   "media store URL must be s3://ACCESS_KEY:SECRET@HOST[:PORT]/BUCKET[?region=R]: " +
                       std::move(why));
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      *out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = HexVal(in[i + 1]), lo = HexVal(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    *out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

bool ValidBucket(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(b.front()) || !alnum(b.back())) return false;
  for (char c : b) {
    if (!alnum(c) && c != '.' && c != '-') return false;
  }
  return true;
}

bool ValidRegion(std::string_view r) {
  if (r.empty() || r.size() > 32) return false;
  for (char c : r) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

}  // namespace

std::string S3Url::Redacted() const {
  return "s3://" + credentials.access_key + ":***@" + authority() + "/" + bucket;
}

Result<S3Url> ParseS3Url(std::string_view url) {
  constexpr std::string_view kScheme = "s3://";
  if (url.substr(0, kScheme.size()) != kScheme) return Bad("not an s3:// URL");
  std::string_view rest = url.substr(kScheme.size());
  size_t at = rest.rfind('@');
  if (at == std::string_view::npos) return Bad("no ACCESS_KEY:SECRET@");
  std::string_view userinfo = rest.substr(0, at);
  rest = rest.substr(at + 1);
  size_t colon = userinfo.find(':');
  if (colon == std::string_view::npos) return Bad("no ':' between access key and secret");
  S3Url u;
  if (!PercentDecode(userinfo.substr(0, colon), &u.credentials.access_key) ||
      !PercentDecode(userinfo.substr(colon + 1), &u.credentials.secret_key))
    return Bad("bad percent-encoding in the credentials");
  if (u.credentials.access_key.empty() || u.credentials.secret_key.empty())
    return Bad("empty access key or secret");

  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return Bad("no /BUCKET");
  std::string_view hostport = rest.substr(0, slash);
  std::string_view bucket = rest.substr(slash + 1);
  if (!bucket.empty() && bucket.back() == '/') bucket.remove_suffix(1);
  if (!ValidBucket(bucket)) return Bad("bad bucket name");
  u.bucket = std::string(bucket);

  size_t pc = hostport.rfind(':');
  std::string_view host = hostport;
  if (pc != std::string_view::npos && hostport.find(']') == std::string_view::npos) {
    host = hostport.substr(0, pc);
    std::string_view port = hostport.substr(pc + 1);
    int p = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || p < 1 || p > 65535)
      return Bad("bad port");
    u.port = p;
  }
  if (host.empty()) return Bad("no host");
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-';
    if (!ok) return Bad("bad host");
  }
  u.host = std::string(host);

  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (kv.substr(0, 7) == "region=" && ValidRegion(kv.substr(7))) {
      u.credentials.region = std::string(kv.substr(7));
    } else {
      return Bad("unknown or bad parameter (only region=…)");
    }
  }
  return u;
}

}  // namespace parley::storage::s3
