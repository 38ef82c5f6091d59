// The search table's rowid: time ordered, so FTS5's ORDER BY rowid DESC is "newest first".
// rowid = created_at (ms, clamped to 42 bits: until the year 2109) << 20, plus a tie-breaker for
// messages of the same millisecond.
#pragma once

#include <algorithm>
#include <cstdint>

namespace parley::storage::sqlite {

inline constexpr int64_t kRowidsPerMs = int64_t{1} << 20;
inline constexpr int64_t kMaxRowidMs = (int64_t{1} << 42) - 1;

inline int64_t RowidFloorOf(int64_t created_at_ms) {
  return std::clamp<int64_t>(created_at_ms, 0, kMaxRowidMs) * kRowidsPerMs;
}
inline int64_t CreatedAtOf(int64_t rowid) { return rowid / kRowidsPerMs; }

}  // namespace parley::storage::sqlite
