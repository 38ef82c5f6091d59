#include "histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace parley::bench {

int Histogram::IndexOf(int64_t value) {
  const auto v = static_cast<uint64_t>(value);
  if (v < (1u << kExactBits)) return static_cast<int>(v);
  // v has its top bit at position m >= 8; keep the top 8 bits (1xxxxxxx) of it.
  const int m = std::bit_width(v) - 1;
  const int shift = std::min(m - kSubBits, kMaxShift);
  const uint64_t top = std::min<uint64_t>(v >> shift, (1u << (kSubBits + 1)) - 1);
  return (1 << kExactBits) + (shift - 1) * (1 << kSubBits) +
         static_cast<int>(top - (1u << kSubBits));
}

int64_t Histogram::LowestOf(int index) {
  if (index < (1 << kExactBits)) return index;
  const int rel = index - (1 << kExactBits);
  const int shift = rel / (1 << kSubBits) + 1;
  const int64_t top = (1 << kSubBits) + rel % (1 << kSubBits);
  return top << shift;
}

int64_t Histogram::WidthOf(int index) {
  if (index < (1 << kExactBits)) return 1;
  return int64_t{1} << ((index - (1 << kExactBits)) / (1 << kSubBits) + 1);
}

void Histogram::Record(int64_t value) {
  value = std::max<int64_t>(value, 0);
  ++counts_[IndexOf(value)];
  ++count_;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += value;
}

void Histogram::Merge(const Histogram& other) {
  for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

int64_t Histogram::Percentile(double p) const {
  if (count_ == 0) return 0;
  const double clamped = std::clamp(p, 0.0, 100.0);
  const auto rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(clamped / 100.0 * count_)));
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const int64_t mid = LowestOf(i) + (WidthOf(i) - 1) / 2;
      return std::clamp(mid, min(), max());
    }
  }
  return max();
}

}  // namespace parley::bench
