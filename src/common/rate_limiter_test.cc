#include "common/rate_limiter.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

using namespace std::chrono_literals;

TEST(RateLimiter, AllowsTheBurstThenAsksToWait) {
  RateLimiter r(60, 3);  // one per second, three at once
  auto t = std::chrono::steady_clock::now();
  EXPECT_EQ(r.AllowAt("a", t), 0);
  EXPECT_EQ(r.AllowAt("a", t), 0);
  EXPECT_EQ(r.AllowAt("a", t), 0);
  EXPECT_EQ(r.AllowAt("a", t), 1);
  EXPECT_EQ(r.AllowAt("b", t), 0);  // keys are independent
  EXPECT_EQ(r.AllowAt("a", t + 1100ms), 0);
  EXPECT_GE(r.AllowAt("a", t + 1100ms), 1);
}

TEST(RateLimiter, ZeroRateIsUnlimited) {
  RateLimiter r(0, 1);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(r.Allow("x"), 0);
}

TEST(RateLimiter, RetryAfterCoversTheWait) {
  RateLimiter r(6, 1);  // one per 10 s
  auto t = std::chrono::steady_clock::now();
  EXPECT_EQ(r.AllowAt("k", t), 0);
  EXPECT_EQ(r.AllowAt("k", t), 10);
}

TEST(RateLimiter, WeightedCostsTakeThatManyTokens) {
  RateLimiter r(600, 100);  // 10 a second, 100 at once: e.g. bytes
  auto t = std::chrono::steady_clock::now();
  EXPECT_EQ(r.AllowAt("k", t, 60), 0);
  EXPECT_EQ(r.AllowAt("k", t, 60), 2);  // 40 left: 20 more take 2 s
  EXPECT_EQ(r.AllowAt("k", t, 40), 0);
  EXPECT_EQ(r.AllowAt("k", t + 2s, 20), 0);
}

TEST(RateLimiter, ACostAboveTheBurstNeedsAFullBucket) {
  RateLimiter r(60, 10);
  auto t = std::chrono::steady_clock::now();
  EXPECT_EQ(r.AllowAt("k", t, 1000), 0);  // taken as 10: the bucket was full
  EXPECT_EQ(r.AllowAt("k", t, 1000), 10);
  EXPECT_EQ(r.AllowAt("k", t + 10s, 1000), 0);
}

}  // namespace
}  // namespace parley
