// Base URLs of a Parley server: "http://host:port" (an optional path prefix is kept). Only plain
// http is supported for now; "https" is rejected with kInvalidArgument until TLS lands.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace parley::sdk::net {

struct BaseUrl {
  std::string scheme;  // "http"
  std::string host;    // without brackets for IPv6
  std::string port;    // "80" when absent
  std::string prefix;  // path prefix without the trailing '/', usually ""

  // The Host header value.
  std::string HostHeader() const;
  // prefix + path (path starts with '/').
  std::string Target(std::string_view path) const { return prefix + std::string(path); }
};

Result<BaseUrl> ParseBaseUrl(std::string_view url);

// Percent-encodes a query-string or path component (RFC 3986 unreserved kept).
std::string UrlEncode(std::string_view s);

}  // namespace parley::sdk::net
