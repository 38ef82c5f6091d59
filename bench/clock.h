// One clock for every timestamp the bench takes: CLOCK_MONOTONIC in nanoseconds. It is shared by
// all threads of the process, so a time taken by the sender can be compared by the recipient.
#pragma once

#include <chrono>
#include <cstdint>

namespace parley::bench {

using Clock = std::chrono::steady_clock;

inline int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

inline Clock::time_point FromNs(int64_t ns) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
}

constexpr int64_t kNsPerMs = 1'000'000;
constexpr int64_t kNsPerSec = 1'000'000'000;

}  // namespace parley::bench
