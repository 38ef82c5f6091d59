#include "services/gateway/origin_check.h"

#include <cctype>

namespace parley::services {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!out.empty() && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
  size_t start = out.find_first_not_of(" \t");
  return start == std::string::npos ? std::string() : out.substr(start);
}

// "host:80" for http and "host:443" for https name the same place as "host".
std::string WithoutDefaultPort(std::string authority, std::string_view scheme) {
  std::string_view port = scheme == "https" ? ":443" : ":80";
  if (authority.size() > port.size() &&
      authority.compare(authority.size() - port.size(), port.size(), port) == 0) {
    authority.resize(authority.size() - port.size());
  }
  return authority;
}

}  // namespace

bool WsOriginAllowed(std::optional<std::string_view> origin, std::string_view host,
                     const std::vector<std::string>& allowed) {
  if (!origin) return true;
  std::string o = Lower(*origin);
  while (!o.empty() && o.back() == '/') o.pop_back();
  for (const auto& a : allowed) {
    std::string entry = Lower(a);
    while (!entry.empty() && entry.back() == '/') entry.pop_back();
    if (entry == "*" || (!entry.empty() && entry == o)) return true;
  }
  size_t sep = o.find("://");
  if (sep == std::string::npos) return false;
  std::string scheme = o.substr(0, sep);
  if (scheme != "http" && scheme != "https") return false;
  std::string authority = o.substr(sep + 3);
  if (authority.empty() || authority.find_first_of("/?#@ ") != std::string::npos) return false;
  std::string h = Lower(host);
  if (h.empty()) return false;
  return WithoutDefaultPort(authority, scheme) == WithoutDefaultPort(h, scheme);
}

}  // namespace parley::services
