#include "common/histogram.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "common/metrics.h"

namespace parley {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST(Histogram, CountsEachDurationInTheFirstBucketThatHoldsIt) {
  Histogram h;
  h.Observe(microseconds(10));    // <= 50 µs
  h.Observe(microseconds(50));    // exactly on a bound: that bucket
  h.Observe(microseconds(700));   // <= 1 ms
  h.Observe(milliseconds(30));    // <= 50 ms
  h.Observe(std::chrono::seconds(60));  // past the last bound: +Inf
  h.Observe(std::chrono::nanoseconds(-5));  // a clock step backwards counts as 0
  Histogram::Snapshot s = h.Read();
  EXPECT_EQ(s.count, 6u);
  EXPECT_EQ(s.buckets[0], 3u);
  EXPECT_EQ(s.buckets[4], 1u);  // 0.001
  EXPECT_EQ(s.buckets[9], 1u);  // 0.05
  EXPECT_EQ(s.buckets[Histogram::kBuckets - 1], 1u);
  EXPECT_NEAR(s.sum_seconds, 60.03076, 1e-6);
}

TEST(Histogram, ConcurrentObserversLoseNothing) {
  Histogram h;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h] {
      for (int i = 0; i < 10000; ++i) h.Observe(microseconds(i % 3000));
    });
  }
  for (auto& t : threads) t.join();
  Histogram::Snapshot s = h.Read();
  uint64_t total = 0;
  for (uint64_t b : s.buckets) total += b;
  EXPECT_EQ(s.count, 40000u);
  EXPECT_EQ(total, 40000u);
}

TEST(Histogram, ATimerObservesItsScope) {
  Histogram h;
  {
    Histogram::Timer t(h);
    std::this_thread::sleep_for(milliseconds(2));
  }
  Histogram::Snapshot s = h.Read();
  EXPECT_EQ(s.count, 1u);
  EXPECT_GE(s.sum_seconds, 0.002);
}

TEST(Metrics, RendersAHistogramCumulativelyInSeconds) {
  Metrics m;
  Histogram& owned = m.NewHistogram("parley_test_seconds", "A test stage");
  Histogram outside;
  m.HistogramRef("parley_other_seconds", "Another stage", &outside);
  owned.Observe(microseconds(200));
  owned.Observe(milliseconds(2));
  outside.Observe(milliseconds(20));
  std::string text = m.RenderPrometheus();
  EXPECT_NE(text.find("# TYPE parley_test_seconds histogram\n"), std::string::npos) << text;
  EXPECT_NE(text.find("parley_test_seconds_bucket{le=\"0.0001\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("parley_test_seconds_bucket{le=\"0.00025\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("parley_test_seconds_bucket{le=\"0.0025\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("parley_test_seconds_bucket{le=\"+Inf\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("parley_test_seconds_count 2\n"), std::string::npos);
  EXPECT_NE(text.find("parley_test_seconds_sum 0.0022\n"), std::string::npos) << text;
  EXPECT_NE(text.find("parley_other_seconds_bucket{le=\"0.025\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("parley_other_seconds_bucket{le=\"0.01\"} 0\n"), std::string::npos);
}

}  // namespace
}  // namespace parley
