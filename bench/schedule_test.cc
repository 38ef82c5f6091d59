#include "schedule.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace parley::bench {
namespace {

TEST(Schedule, ConnectionsInterleaveEvenly) {
  // 1000 req/s over 4 connections: one request every ms overall, each connection every 4 ms.
  std::vector<int64_t> all;
  for (int c = 0; c < 4; ++c) {
    for (uint64_t k = 0; k < 250; ++k) all.push_back(DueNs(5'000, 1000, 4, c, k));
  }
  std::sort(all.begin(), all.end());
  for (size_t j = 0; j < all.size(); ++j) EXPECT_EQ(all[j], 5'000 + static_cast<int64_t>(j) * 1'000'000);
  EXPECT_EQ(DueNs(0, 1000, 4, 1, 2), 9'000'000);
}

}  // namespace
}  // namespace parley::bench
