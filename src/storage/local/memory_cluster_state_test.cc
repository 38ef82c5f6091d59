#include "storage/local/memory_cluster_state.h"

#include <gtest/gtest.h>

namespace parley::storage {
namespace {

TEST(MemoryConnectionRegistry, CountsConnectionsPerUserAndDevice) {
  MemoryConnectionRegistry r("n1");
  EXPECT_EQ(*r.UserConnections("u1"), 0);
  ASSERT_TRUE(r.Connected("u1", "d1").ok());
  ASSERT_TRUE(r.Connected("u1", "d1").ok());  // two tabs of one device
  ASSERT_TRUE(r.Connected("u1", "d2").ok());
  EXPECT_EQ(*r.UserConnections("u1"), 3);
  EXPECT_TRUE(*r.DeviceOnline("u1", "d1"));
  EXPECT_TRUE(*r.DeviceOnline("u1", "d2"));
  EXPECT_FALSE(*r.DeviceOnline("u1", "d3"));
  EXPECT_FALSE(*r.DeviceOnline("u2", "d1"));
  EXPECT_EQ(*r.NodesOf("u1"), std::vector<std::string>{"n1"});
  EXPECT_TRUE(r.NodesOf("u2")->empty());

  ASSERT_TRUE(r.Disconnected("u1", "d1").ok());
  EXPECT_TRUE(*r.DeviceOnline("u1", "d1"));
  ASSERT_TRUE(r.Disconnected("u1", "d1").ok());
  EXPECT_FALSE(*r.DeviceOnline("u1", "d1"));
  EXPECT_EQ(*r.UserConnections("u1"), 1);
  ASSERT_TRUE(r.Disconnected("u1", "d2").ok());
  EXPECT_EQ(*r.UserConnections("u1"), 0);
  EXPECT_TRUE(r.NodesOf("u1")->empty());
}

TEST(MemoryConnectionRegistry, UnmatchedDisconnectIsIgnored) {
  MemoryConnectionRegistry r;
  EXPECT_EQ(r.node_id(), "local");
  ASSERT_TRUE(r.Disconnected("u1", "d1").ok());
  EXPECT_EQ(*r.UserConnections("u1"), 0);
  ASSERT_TRUE(r.Connected("u1", "d1").ok());
  ASSERT_TRUE(r.Disconnected("u1", "d2").ok());  // another device: no effect
  EXPECT_EQ(*r.UserConnections("u1"), 1);
}

TEST(MemoryConnectionRegistry, RejectsBadIds) {
  MemoryConnectionRegistry r;
  EXPECT_EQ(r.Connected("", "d").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.Connected("u", "a b").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.Connected("u:x", "d").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.UserConnections(std::string(kMaxClusterIdBytes + 1, 'a')).error().code,
            ErrorCode::kInvalidArgument);
  std::string longest(kMaxClusterIdBytes, 'a');
  EXPECT_TRUE(r.Connected(longest, "0189f7e2-aaaa-7bbb-8ccc-0123456789ab").ok());
}

TEST(MemoryRateLimiter, BehavesLikeRateLimiter) {
  MemoryRateLimiter r(6, 2);  // one per 10 s, two at once
  EXPECT_FALSE(r.unlimited());
  EXPECT_EQ(r.Allow("k"), 0);
  EXPECT_EQ(r.Allow("k"), 0);
  EXPECT_EQ(r.Allow("k"), 10);
  EXPECT_EQ(r.Allow("other"), 0);

  MemoryRateLimiter unlimited(0, 1);
  EXPECT_TRUE(unlimited.unlimited());
  for (int i = 0; i < 100; ++i) ASSERT_EQ(unlimited.Allow("k"), 0);
}

}  // namespace
}  // namespace parley::storage
