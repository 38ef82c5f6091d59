#include "transport/range.h"

#include <limits>

namespace parley::transport {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// A non-empty run of digits, saturating at 2^64-1; nullopt if anything else.
std::optional<uint64_t> Digits(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    v = v > (kMax - d) / 10 ? kMax : v * 10 + d;
  }
  return v;
}

bool UnitIsBytes(std::string_view unit) {
  constexpr std::string_view kBytes = "bytes";
  if (unit.size() != kBytes.size()) return false;
  for (size_t i = 0; i < unit.size(); ++i) {
    char c = unit[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kBytes[i]) return false;
  }
  return true;
}

struct Spec {
  std::optional<uint64_t> first;  // absent: a suffix range
  std::optional<uint64_t> last;   // absent: to the end (or, for a suffix, the suffix length)
};

std::optional<Spec> ParseSpec(std::string_view s) {
  size_t dash = s.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  std::string_view a = s.substr(0, dash), b = s.substr(dash + 1);
  Spec spec;
  if (a.empty()) {
    spec.last = Digits(b);  // suffix length
    if (!spec.last) return std::nullopt;
    return spec;
  }
  spec.first = Digits(a);
  if (!spec.first) return std::nullopt;
  if (!b.empty()) {
    spec.last = Digits(b);
    if (!spec.last || *spec.last < *spec.first) return std::nullopt;
  }
  return spec;
}

}  // namespace

RangeDecision ParseRange(std::optional<std::string_view> header, uint64_t size) {
  using Kind = RangeDecision::Kind;
  if (!header) return {};
  std::string_view h = Trim(*header);
  size_t eq = h.find('=');
  if (eq == std::string_view::npos) return {Kind::kUnsatisfiable, {}};
  if (!UnitIsBytes(Trim(h.substr(0, eq)))) return {};  // another unit: ignored
  std::string_view set = h.substr(eq + 1);
  std::optional<Spec> only;
  int count = 0;
  while (true) {
    size_t comma = set.find(',');
    std::string_view item = Trim(set.substr(0, comma));
    if (!item.empty()) {
      auto spec = ParseSpec(item);
      if (!spec) return {Kind::kUnsatisfiable, {}};
      only = spec;
      ++count;
    }
    if (comma == std::string_view::npos) break;
    set.remove_prefix(comma + 1);
  }
  if (count == 0) return {Kind::kUnsatisfiable, {}};
  if (count > 1) return {};  // several ranges: served whole rather than as multipart
  if (size == 0) return {Kind::kUnsatisfiable, {}};
  if (!only->first) {  // suffix: the last n bytes
    uint64_t n = *only->last;
    if (n == 0) return {Kind::kUnsatisfiable, {}};
    uint64_t first = n >= size ? 0 : size - n;
    return {Kind::kPartial, {first, size - 1}};
  }
  if (*only->first >= size) return {Kind::kUnsatisfiable, {}};
  uint64_t last = only->last && *only->last < size ? *only->last : size - 1;
  return {Kind::kPartial, {*only->first, last}};
}

bool EtagMatches(std::string_view header, std::string_view etag, bool weak) {
  std::string_view s = header;
  while (true) {
    while (!s.empty() && (IsSpace(s.front()) || s.front() == ',')) s.remove_prefix(1);
    if (s.empty()) return false;
    if (s.front() == '*') {
      if (weak) return true;
      s.remove_prefix(1);
      continue;
    }
    bool is_weak = false;
    if (s.size() >= 2 && s[0] == 'W' && s[1] == '/') {
      is_weak = true;
      s.remove_prefix(2);
    }
    if (s.empty() || s.front() != '"') return false;
    size_t close = s.find('"', 1);
    if (close == std::string_view::npos) return false;
    std::string_view tag = s.substr(0, close + 1);
    if (tag == etag && (weak || !is_weak)) return true;
    s.remove_prefix(close + 1);
  }
}

}  // namespace parley::transport
