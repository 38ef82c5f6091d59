#include "sdk/net/url.h"

#include "common/encoding.h"

namespace parley::sdk::net {

std::string BaseUrl::HostHeader() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return port == "80" ? h : h + ":" + port;
}

Result<BaseUrl> ParseBaseUrl(std::string_view url) {
  auto bad = [&](const char* why) {
    return MakeError(ErrorCode::kInvalidArgument, std::string("bad server URL: ") + why);
  };
  BaseUrl b;
  size_t p = url.find("://");
  if (p == std::string_view::npos) return bad("expected http://host:port");
  b.scheme = std::string(url.substr(0, p));
  for (auto& ch : b.scheme) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (b.scheme == "https") return bad("https is not supported yet; use http://");
  if (b.scheme != "http") return bad("the scheme must be http");
  std::string_view rest = url.substr(p + 3);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view path = rest.substr(slash);
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    b.prefix = std::string(path);
  }
  if (authority.empty() || authority.find('@') != std::string_view::npos) return bad("host");
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("IPv6 host");
    b.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (!authority.empty() && authority.front() != ':') return bad("port");
    b.port = authority.empty() ? "80" : std::string(authority.substr(1));
  } else {
    size_t colon = authority.rfind(':');
    b.host = std::string(authority.substr(0, colon));
    b.port = colon == std::string_view::npos ? "80" : std::string(authority.substr(colon + 1));
  }
  if (b.host.empty() || b.port.empty() || b.port.size() > 5) return bad("host or port");
  for (char ch : b.port)
    if (ch < '0' || ch > '9') return bad("port");
  return b;
}

std::string UrlEncode(std::string_view s) { return PercentEncode(s); }

}  // namespace parley::sdk::net
