// The search table's rowid: time ordered, so FTS5's ORDER BY rowid DESC is "newest first", and
// carrying a hash of the conversation, so a scan can skip hits of conversations that are not the
// caller's without reading anything else.
//
//   rowid = ms << 20 | bucket << 6 | n
//   ms      created_at in ms, clamped to 42 bits (until the year 2109)
//   bucket  14-bit hash of the conversation id (ConversationBucket)
//   n       0–63: messages of one bucket in one ms; the 65th takes the next ms
//
// Persisted: never change the layout or the hash.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string_view>

namespace parley::storage::sqlite {

inline constexpr int kBucketBits = 14;
inline constexpr int kSlotBits = 6;
inline constexpr int64_t kRowidsPerMs = int64_t{1} << (kBucketBits + kSlotBits);
inline constexpr int64_t kSlotsPerBucket = int64_t{1} << kSlotBits;
inline constexpr int64_t kMaxRowidMs = (int64_t{1} << 42) - 1;

// FNV-1a of the id, folded to kBucketBits.
inline uint32_t ConversationBucket(std::string_view conversation_id) {
  uint32_t h = 2166136261u;
  for (unsigned char c : conversation_id) h = (h ^ c) * 16777619u;
  return (h ^ (h >> kBucketBits) ^ (h >> (2 * kBucketBits))) & ((1u << kBucketBits) - 1);
}

// The first rowid of the conversation's bucket in that millisecond.
inline int64_t RowidBase(int64_t created_at_ms, uint32_t bucket) {
  return std::clamp<int64_t>(created_at_ms, 0, kMaxRowidMs) * kRowidsPerMs +
         (static_cast<int64_t>(bucket) << kSlotBits);
}
inline int64_t CreatedAtOf(int64_t rowid) { return rowid / kRowidsPerMs; }
inline uint32_t BucketOf(int64_t rowid) {
  return static_cast<uint32_t>(rowid >> kSlotBits) & ((1u << kBucketBits) - 1);
}

}  // namespace parley::storage::sqlite
