// Histogram: a distribution of durations in fixed buckets, for the per-stage timings of /metrics
// (rendered by Metrics as a Prometheus histogram in seconds). Observe is lock-free (relaxed
// atomics) and may be called from any thread; a reader sees each bucket's count exactly, and
// sum/count as of some moment close to the read (Prometheus tolerates that skew).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace parley {

class Histogram {
 public:
  // Upper bounds of the buckets, in seconds (the last, +Inf, is implicit): 50 µs to 10 s, about
  // 2.5x apart, fine enough to tell a 1 ms stage from a 3 ms one.
  static constexpr std::array<double, 17> kBounds = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,    0.1,    0.25,    0.5,    1.0,   2.5,    5.0,   10.0};
  static constexpr size_t kBuckets = kBounds.size() + 1;

  void Observe(std::chrono::nanoseconds d);
  void ObserveSince(std::chrono::steady_clock::time_point start) {
    Observe(std::chrono::steady_clock::now() - start);
  }

  // Observes the time from its construction to its destruction (every return of a scope).
  class Timer {
   public:
    explicit Timer(Histogram& h) : h_(h), start_(std::chrono::steady_clock::now()) {}
    ~Timer() { h_.ObserveSince(start_); }
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;

   private:
    Histogram& h_;
    std::chrono::steady_clock::time_point start_;
  };

  struct Snapshot {
    std::array<uint64_t, kBuckets> buckets{};  // per bucket, not cumulative
    uint64_t count = 0;
    double sum_seconds = 0;
  };
  Snapshot Read() const;

 private:
  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

}  // namespace parley
