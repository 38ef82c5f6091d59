// A log-bucketed latency histogram in the manner of HdrHistogram: values below 256 are counted
// exactly; above, each power of two is split into 128 buckets, so a reported value is within
// 1/256 (0.4%) of the true one. Recording is O(1) with no allocation; memory is fixed (~60 KiB).
//
// Not thread safe: give each thread its own and Merge() them at the end.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace parley::bench {

class Histogram {
 public:
  // Records one value (nanoseconds, or any non-negative integer). Negative values count as 0;
  // values beyond ~2^47 (about 39 hours in ns) are clamped to the top bucket.
  void Record(int64_t value);
  void Merge(const Histogram& other);

  uint64_t count() const { return count_; }
  int64_t min() const { return count_ ? min_ : 0; }
  int64_t max() const { return count_ ? max_ : 0; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }
  // The value at percentile p (0..100): the middle of the bucket holding the ceil(p% * count)-th
  // smallest value, clamped to [min, max]. 0 when empty.
  int64_t Percentile(double p) const;

 private:
  static constexpr int kExactBits = 8;   // 0..255 exact
  static constexpr int kSubBits = 7;     // 128 buckets per power of two above that
  static constexpr int kMaxShift = 40;   // top bucket starts near 2^47
  static constexpr int kBuckets = (1 << kExactBits) + kMaxShift * (1 << kSubBits);

  static int IndexOf(int64_t value);
  static int64_t LowestOf(int index);
  static int64_t WidthOf(int index);

  std::vector<uint64_t> counts_ = std::vector<uint64_t>(kBuckets, 0);
  uint64_t count_ = 0;
  int64_t min_ = INT64_MAX;
  int64_t max_ = 0;
  // Sum in ns fits: 2^63 ns is 292 years of accumulated latency.
  int64_t sum_ = 0;
};

}  // namespace parley::bench
