#include "common/net_filter.h"

#include <array>
#include <charconv>
#include <string>

namespace parley {
namespace ip = boost::asio::ip;

namespace {

// Bytes of an address (4 or 16) and whether its first `prefix` bits equal those of `base`.
template <size_t N>
bool PrefixMatch(const std::array<unsigned char, N>& a, const std::array<unsigned char, N>& base,
                 int prefix) {
  int full = prefix / 8, rest = prefix % 8;
  for (int i = 0; i < full; ++i)
    if (a[i] != base[i]) return false;
  if (rest == 0) return true;
  unsigned char mask = static_cast<unsigned char>(0xFF << (8 - rest));
  return (a[full] & mask) == (base[full] & mask);
}

// Whether any bit past the first `prefix` is set.
template <size_t N>
bool HostBitsSet(const std::array<unsigned char, N>& b, int prefix) {
  for (int i = prefix; i < static_cast<int>(N) * 8; ++i)
    if ((b[i / 8] >> (7 - i % 8)) & 1) return true;
  return false;
}

bool V4In(const ip::address_v4& a, const char* base, int prefix) {
  return PrefixMatch(a.to_bytes(), ip::make_address_v4(base).to_bytes(), prefix);
}

bool V6In(const ip::address_v6& a, const char* base, int prefix) {
  return PrefixMatch(a.to_bytes(), ip::make_address_v6(base).to_bytes(), prefix);
}

bool PublicV4(const ip::address_v4& a) {
  static const std::pair<const char*, int> kRefused[] = {
      {"0.0.0.0", 8},       {"10.0.0.0", 8},      {"100.64.0.0", 10},   {"127.0.0.0", 8},
      {"169.254.0.0", 16},  {"172.16.0.0", 12},   {"192.0.0.0", 24},    {"192.0.2.0", 24},
      {"192.88.99.0", 24},  {"192.168.0.0", 16},  {"198.18.0.0", 15},   {"198.51.100.0", 24},
      {"203.0.113.0", 24},  {"224.0.0.0", 4},     {"240.0.0.0", 4},
  };
  for (const auto& [base, prefix] : kRefused)
    if (V4In(a, base, prefix)) return false;
  return true;  // 255.255.255.255 is inside 240/4
}

ip::address_v4 V4At(const std::array<unsigned char, 16>& b, int offset) {
  return ip::address_v4(ip::address_v4::bytes_type{b[offset], b[offset + 1], b[offset + 2],
                                                   b[offset + 3]});
}

}  // namespace

Result<Network> ParseNetwork(std::string_view text) {
  auto bad = [&] {
    return MakeError(ErrorCode::kInvalidArgument,
                     "not an address or network (CIDR): " + std::string(text));
  };
  size_t slash = text.find('/');
  boost::system::error_code ec;
  ip::address base = ip::make_address(std::string(text.substr(0, slash)), ec);
  if (ec) return bad();
  const int width = base.is_v4() ? 32 : 128;
  int prefix = width;
  if (slash != std::string_view::npos) {
    std::string_view bits = text.substr(slash + 1);
    auto [ptr, perr] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
    if (perr != std::errc() || ptr != bits.data() + bits.size() || bits.empty() || prefix < 0 ||
        prefix > width) {
      return bad();
    }
  }
  // Host bits set ("10.1.2.3/8") are almost always a typo for something else: refused.
  if (base.is_v4() ? HostBitsSet(base.to_v4().to_bytes(), prefix)
                   : HostBitsSet(base.to_v6().to_bytes(), prefix)) {
    return bad();
  }
  return Network{base, prefix};
}

bool InNetwork(const ip::address& a, const Network& n) {
  if (a.is_v4() != n.base.is_v4()) return false;
  if (a.is_v4()) return PrefixMatch(a.to_v4().to_bytes(), n.base.to_v4().to_bytes(), n.prefix);
  return PrefixMatch(a.to_v6().to_bytes(), n.base.to_v6().to_bytes(), n.prefix);
}

bool IsPublicAddress(const ip::address& a) {
  if (a.is_v4()) return PublicV4(a.to_v4());
  const ip::address_v6 v6 = a.to_v6();
  const auto b = v6.to_bytes();
  if (v6.is_v4_mapped() || V6In(v6, "64:ff9b::", 96)) return PublicV4(V4At(b, 12));
  if (V6In(v6, "2002::", 16)) return PublicV4(V4At(b, 2));
  if (!V6In(v6, "2000::", 3)) return false;  // ::1, ::, fc00::/7, fe80::/10, ff00::/8, …
  return !V6In(v6, "2001:db8::", 32) && !V6In(v6, "2001::", 23);  // documentation, IETF
}

bool DestinationAllowed(const ip::address& a, const std::vector<Network>& allowed) {
  if (IsPublicAddress(a)) return true;
  // An IPv4-mapped address is its IPv4 address for the allow-list too.
  const ip::address plain =
      a.is_v6() && a.to_v6().is_v4_mapped()
          ? ip::address(ip::make_address_v4(ip::v4_mapped, a.to_v6()))
          : a;
  for (const auto& n : allowed)
    if (InNetwork(plain, n)) return true;
  return false;
}

}  // namespace parley
