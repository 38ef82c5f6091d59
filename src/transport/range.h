// Range requests and entity tags (RFC 9110 §13, §14) as pure functions over header values: no
// I/O, no state, so a handler serving a file decides 200, 206, 304 or 416 from them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace parley::transport {

struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
  uint64_t length() const { return last - first + 1; }
};

struct RangeDecision {
  enum class Kind {
    kWhole,          // serve the whole representation, 200
    kPartial,        // serve `range`, 206 with Content-Range: bytes first-last/size
    kUnsatisfiable,  // 416 with Content-Range: bytes */size
  } kind = Kind::kWhole;
  ByteRange range;
};

// Interprets a Range header value (nullopt: none sent) for a representation of `size` bytes.
// Only single byte ranges are served:
//   - no header, another range unit, or several ranges → kWhole (a server may ignore Range);
//   - one range, "a-b", "a-" or "-n", that overlaps the representation → kPartial, its end
//     clamped to size-1 ("-n" with n >= size is the whole, as a 206);
//   - a malformed bytes range ("bytes=x", "bytes=5-2", "bytes=-", signs, spaces inside numbers),
//     one starting at or past the end, "-0", or any range of an empty representation
//     → kUnsatisfiable.
// Numbers too large for 64 bits saturate (so they are past the end, or clamped).
RangeDecision ParseRange(std::optional<std::string_view> header, uint64_t size);

// Whether a list of entity tags (If-None-Match, If-Range) matches `etag`, a quoted tag as sent
// in ETag ("\"abc\""). `weak`: weak comparison (If-None-Match: W/ prefixes are ignored and "*"
// matches); otherwise strong (If-Range: a weak tag never matches). A malformed list matches
// nothing.
bool EtagMatches(std::string_view header, std::string_view etag, bool weak);

}  // namespace parley::transport
