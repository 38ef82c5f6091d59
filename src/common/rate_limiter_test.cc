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

}  // namespace
}  // namespace parley
