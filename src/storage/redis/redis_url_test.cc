#include <gtest/gtest.h>

#include "storage/redis/redis_client.h"

namespace parley::storage::redis {
namespace {

TEST(ParseRedisUrl, HostPortDbAndCredentials) {
  auto u = ParseRedisUrl("redis://127.0.0.1:56390/3");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 56390);
  EXPECT_EQ(u->db, 3);
  EXPECT_TRUE(u->password.empty());

  auto d = ParseRedisUrl("redis://cache");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->host, "cache");
  EXPECT_EQ(d->port, 6379);
  EXPECT_EQ(d->db, 0);

  auto p = ParseRedisUrl("redis://:s3cret@cache:7000/");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->user, "");
  EXPECT_EQ(p->password, "s3cret");
  EXPECT_EQ(p->port, 7000);

  auto a = ParseRedisUrl("redis://app:pw@cache:7000");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->user, "app");
  EXPECT_EQ(a->password, "pw");
}

TEST(ParseRedisUrl, RejectsMalformed) {
  for (const char* bad : {"", "http://x:1", "redis://", "redis://:1", "redis://h:0",
                          "redis://h:70000", "redis://h:x", "redis://h:1/x", "redis://h:1/-1"}) {
    EXPECT_FALSE(ParseRedisUrl(bad).ok()) << bad;
  }
}

TEST(RedisScript, KnowsItsSha1) {
  // SHA-1 of "return 1", as Redis's SCRIPT LOAD reports it.
  EXPECT_EQ(RedisScript("return 1").sha1(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

TEST(RedisClient, UnreachableServerFailsFastWithUnavailable) {
  RedisOptions o;
  o.pool_size = 1;
  o.connect_timeout_ms = 200;
  o.reconnect_backoff_ms = 60000;
  RedisClient c(*ParseRedisUrl("redis://127.0.0.1:1"), o);
  Status s = c.Ping();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(c.Ping().error().code, ErrorCode::kUnavailable);  // within the backoff: no connect
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(50));
}

}  // namespace
}  // namespace parley::storage::redis
