// The Redis adapters against a live Redis: PARLEY_TEST_REDIS_URL (redis://host:port[/db]) must be
// set, else every test fails. Each test uses its own key prefix and deletes its keys. The restart
// test starts its own redis-server (from PATH) on a free port.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>

#include "common/ids.h"
#include "storage/redis/redis_client.h"
#include "storage/redis/redis_connection_registry.h"
#include "storage/redis/redis_hot_cache.h"
#include "storage/redis/redis_rate_limiter.h"
#include "storage/redis/redis_revocation_list.h"

extern char** environ;

namespace parley::storage::redis {
namespace {

using namespace std::chrono_literals;
using Nodes = std::vector<std::string>;

RedisOptions FastOptions() {
  RedisOptions o;
  o.pool_size = 2;
  o.connect_timeout_ms = 500;
  o.command_timeout_ms = 1000;
  o.reconnect_backoff_ms = 100;
  return o;
}

// Heartbeat every 100 ms, expiring after 600 ms, sweeping every beat.
RedisRegistryOptions FastRegistry(std::string node, std::string prefix) {
  RedisRegistryOptions o;
  o.node_id = std::move(node);
  o.key_prefix = std::move(prefix);
  o.heartbeat_ttl_ms = 600;
  o.heartbeat_interval_ms = 100;
  o.sweep_every_beats = 1;
  return o;
}

// Polls `pred` until it holds or `limit` passes.
template <typename F>
bool Eventually(F pred, std::chrono::milliseconds limit = 3000ms) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

void DeleteKeys(RedisClient& c, const std::string& prefix) {
  std::string cursor = "0";
  do {
    auto r = c.Command({"SCAN", cursor, "MATCH", prefix + "*", "COUNT", "1000"});
    if (!r.ok() || r->elements.size() != 2) return;
    cursor = r->elements[0].str;
    for (const auto& k : r->elements[1].elements) (void)c.Command({"DEL", k.str});
  } while (cursor != "0");
}

class RedisScaleout : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* url = std::getenv("PARLEY_TEST_REDIS_URL");
    ASSERT_NE(url, nullptr) << "PARLEY_TEST_REDIS_URL is not set: these tests need a live Redis, "
                               "e.g. PARLEY_TEST_REDIS_URL=redis://127.0.0.1:6379/0";
    auto parsed = ParseRedisUrl(url);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    url_ = *parsed;
    a_ = std::make_unique<RedisClient>(url_, FastOptions());
    b_ = std::make_unique<RedisClient>(url_, FastOptions());
    Status ping = a_->Ping();
    ASSERT_TRUE(ping.ok()) << "Redis at PARLEY_TEST_REDIS_URL does not answer: "
                           << ping.error().message;
    prefix_ = "parleytest:" + NewUuidV4() + ":";
  }
  void TearDown() override {
    if (a_) DeleteKeys(*a_, prefix_);
  }

  RedisUrl url_;
  std::unique_ptr<RedisClient> a_, b_;  // two nodes' clients
  std::string prefix_;
};

TEST_F(RedisScaleout, PingAndRepliesOfEveryType) {
  ASSERT_TRUE(a_->Ping().ok());
  std::string k = prefix_ + "k";
  auto set = a_->Command({"SET", k, std::string("a\0b", 3)});
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->str, "OK");
  auto get = a_->Command({"GET", k});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->str, std::string("a\0b", 3));  // binary-safe
  EXPECT_TRUE(a_->Command({"GET", prefix_ + "missing"})->is_nil());
  EXPECT_EQ(a_->Command({"INCRBY", prefix_ + "n", "5"})->integer, 5);
  auto err = a_->Command({"INCR", k});  // not an integer: an error reply
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.error().code, ErrorCode::kInternal);
  // EVALSHA of a script Redis has not seen falls back to EVAL.
  RedisScript script("return {KEYS[1], ARGV[1], 7}");
  auto r = a_->Eval(script, {"x"}, {"y"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->elements.size(), 3u);
  EXPECT_EQ(r->elements[0].str, "x");
  EXPECT_EQ(r->elements[2].integer, 7);
}

TEST_F(RedisScaleout, ConnectionsAddUpAcrossNodes) {
  RedisConnectionRegistry n1(*a_, FastRegistry("n1", prefix_));
  RedisConnectionRegistry n2(*b_, FastRegistry("n2", prefix_));
  ASSERT_TRUE(n1.Start().ok());
  ASSERT_TRUE(n2.Start().ok());

  EXPECT_EQ(*n1.UserConnections("alice"), 0);
  ASSERT_TRUE(n1.Connected("alice", "phone").ok());
  ASSERT_TRUE(n2.Connected("alice", "laptop").ok());
  ASSERT_TRUE(n2.Connected("alice", "laptop").ok());  // a second tab
  ASSERT_TRUE(n2.Connected("bob", "desk").ok());
  for (ConnectionRegistry* r : std::vector<ConnectionRegistry*>{&n1, &n2}) {
    EXPECT_EQ(*r->UserConnections("alice"), 3);
    EXPECT_EQ(*r->NodesOf("alice"), (Nodes{"n1", "n2"}));
    EXPECT_EQ(*r->NodesOf("bob"), (Nodes{"n2"}));
    EXPECT_TRUE(*r->DeviceOnline("alice", "phone"));
    EXPECT_TRUE(*r->DeviceOnline("alice", "laptop"));
    EXPECT_FALSE(*r->DeviceOnline("alice", "desk"));
    EXPECT_FALSE(*r->DeviceOnline("bob", "phone"));
  }
  // The laptop goes away: alice is still online through her phone on n1.
  ASSERT_TRUE(n2.Disconnected("alice", "laptop").ok());
  EXPECT_TRUE(*n1.DeviceOnline("alice", "laptop"));
  ASSERT_TRUE(n2.Disconnected("alice", "laptop").ok());
  ASSERT_TRUE(n2.Disconnected("alice", "laptop").ok());  // unmatched: ignored
  EXPECT_EQ(*n1.UserConnections("alice"), 1);
  EXPECT_FALSE(*n1.DeviceOnline("alice", "laptop"));
  EXPECT_EQ(*n2.NodesOf("alice"), (Nodes{"n1"}));
  ASSERT_TRUE(n1.Disconnected("alice", "phone").ok());
  EXPECT_EQ(*n2.UserConnections("alice"), 0);
  EXPECT_TRUE(n2.NodesOf("alice")->empty());
  EXPECT_EQ(n1.Connected("a b", "x").error().code, ErrorCode::kInvalidArgument);
}

// Routing reads: only nodes that read addressed events (and are alive) are named for a user.
TEST_F(RedisScaleout, DeliveryNodesNameOnlyLiveNodesThatReadAddressedEvents) {
  RedisRegistryOptions o1 = FastRegistry("n1", prefix_), o2 = FastRegistry("n2", prefix_);
  o1.reads_addressed = o2.reads_addressed = true;
  RedisConnectionRegistry n1(*a_, o1);
  RedisConnectionRegistry n2(*b_, o2, a_.get());  // its route reads on another client
  RedisConnectionRegistry old(*b_, FastRegistry("old", prefix_));  // an older version
  ASSERT_TRUE(n1.Start().ok());
  ASSERT_TRUE(n2.Start().ok());
  ASSERT_TRUE(old.Start().ok());
  ASSERT_TRUE(n1.Connected("alice", "phone").ok());
  ASSERT_TRUE(n2.Connected("alice", "laptop").ok());
  ASSERT_TRUE(old.Connected("bob", "desk").ok());
  ASSERT_TRUE(n2.Connected("bob", "tab").ok());
  auto nodes = n1.DeliveryNodes({"alice", "bob", "carol"});
  ASSERT_TRUE(nodes.ok()) << nodes.error().message;
  EXPECT_EQ(*nodes, (std::vector<Nodes>{{"n1", "n2"}, {"n2"}, {}}));
  auto live = n2.LiveNodes();
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(live->size(), 3u);
  EXPECT_EQ((*live)[0].node_id, "n1");
  EXPECT_TRUE((*live)[0].addressed);
  EXPECT_EQ((*live)[2].node_id, "old");
  EXPECT_FALSE((*live)[2].addressed);
  // A node that crashed stops being named once its heartbeat expires.
  n2.Abandon();
  EXPECT_TRUE(Eventually(
      [&] { return *n1.DeliveryNodes({"alice"}) == std::vector<Nodes>{{"n1"}}; }));
  EXPECT_EQ(n1.DeliveryNodes({"a b"}).error().code, ErrorCode::kInvalidArgument);
}

TEST_F(RedisScaleout, ConcurrentConnectsAndDisconnectsAreCountedExactly) {
  RedisConnectionRegistry n1(*a_, FastRegistry("n1", prefix_));
  RedisConnectionRegistry n2(*b_, FastRegistry("n2", prefix_));
  ASSERT_TRUE(n1.Start().ok());
  ASSERT_TRUE(n2.Start().ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      RedisConnectionRegistry& r = t % 2 ? n2 : n1;
      std::string device = "d" + std::to_string(t);
      for (int i = 0; i < 50; ++i) {
        ASSERT_TRUE(r.Connected("alice", device).ok());
        if (i % 2) {
          ASSERT_TRUE(r.Disconnected("alice", device).ok());
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(*n1.UserConnections("alice"), 4 * 25);
  EXPECT_EQ(*n2.NodesOf("alice"), (Nodes{"n1", "n2"}));
  EXPECT_TRUE(*n2.DeviceOnline("alice", "d0"));
  EXPECT_TRUE(*n1.DeviceOnline("alice", "d3"));
}

TEST_F(RedisScaleout, CrashedNodeStopsCountingAfterItsHeartbeatExpires) {
  std::mutex mu;
  std::vector<std::string> purged;  // guarded by mu
  RedisConnectionRegistry n1(*a_, FastRegistry("n1", prefix_));
  n1.SetOnUsersPurged([&](const std::vector<std::string>& users) {
    std::lock_guard lock(mu);
    purged.insert(purged.end(), users.begin(), users.end());
  });
  RedisConnectionRegistry n2(*b_, FastRegistry("n2", prefix_));
  ASSERT_TRUE(n1.Start().ok());
  ASSERT_TRUE(n2.Start().ok());
  ASSERT_TRUE(n1.Connected("alice", "phone").ok());
  ASSERT_TRUE(n2.Connected("alice", "laptop").ok());
  ASSERT_TRUE(n2.Connected("carol", "tablet").ok());
  std::this_thread::sleep_for(800ms);  // longer than the TTL: heartbeats keep both alive
  EXPECT_EQ(*n1.UserConnections("alice"), 2);

  n2.Abandon();  // n2 crashes: its entries stay in Redis
  EXPECT_EQ(*n1.UserConnections("alice"), 2);
  ASSERT_TRUE(Eventually([&] { return *n1.UserConnections("alice") == 1; }));
  EXPECT_FALSE(*n1.DeviceOnline("alice", "laptop"));
  EXPECT_FALSE(*n1.DeviceOnline("carol", "tablet"));
  EXPECT_EQ(*n1.NodesOf("alice"), (Nodes{"n1"}));
  EXPECT_TRUE(n1.NodesOf("carol")->empty());
  // n1's sweeper removes everything n2 left, even of users nobody asked about.
  ASSERT_TRUE(Eventually([&] {
    return a_->Command({"EXISTS", prefix_ + "nodeconns:n2"})->integer == 0 &&
           a_->Command({"SISMEMBER", prefix_ + "nodes", "n2"})->integer == 0;
  }));
  EXPECT_EQ(a_->Command({"EXISTS", prefix_ + "uconn:carol"})->integer, 0);
  EXPECT_EQ(a_->Command({"EXISTS", prefix_ + "dconn:carol:tablet"})->integer, 0);
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(purged, (Nodes{"alice", "carol"}));  // told once, so presence can re-evaluate them
  }

  // n2 restarts with the same id: it starts from nothing.
  RedisConnectionRegistry n2again(*b_, FastRegistry("n2", prefix_));
  ASSERT_TRUE(n2again.Start().ok());
  EXPECT_EQ(*n2again.UserConnections("alice"), 1);
}

TEST_F(RedisScaleout, RestartWithSameIdReplacesWhatThePreviousRunLeft) {
  {
    RedisConnectionRegistry old(*b_, FastRegistry("n2", prefix_));
    ASSERT_TRUE(old.Start().ok());
    ASSERT_TRUE(old.Connected("alice", "laptop").ok());
    old.Abandon();
  }
  RedisConnectionRegistry n2(*b_, FastRegistry("n2", prefix_));
  ASSERT_TRUE(n2.Start().ok());  // before the old heartbeat expired
  EXPECT_EQ(*n2.UserConnections("alice"), 0);
  EXPECT_FALSE(*n2.DeviceOnline("alice", "laptop"));
}

TEST_F(RedisScaleout, GracefulStopRemovesTheNodeAtOnce) {
  RedisConnectionRegistry n1(*a_, FastRegistry("n1", prefix_));
  RedisConnectionRegistry n2(*b_, FastRegistry("n2", prefix_));
  ASSERT_TRUE(n1.Start().ok());
  ASSERT_TRUE(n2.Start().ok());
  ASSERT_TRUE(n2.Connected("alice", "laptop").ok());
  EXPECT_EQ(*n1.UserConnections("alice"), 1);
  n2.Stop();
  EXPECT_EQ(*n1.UserConnections("alice"), 0);
  EXPECT_EQ(a_->Command({"EXISTS", prefix_ + "nodeconns:n2"})->integer, 0);
}

TEST_F(RedisScaleout, StateRedisLostIsRewrittenByTheHeartbeat) {
  RedisConnectionRegistry n1(*a_, FastRegistry("n1", prefix_));
  ASSERT_TRUE(n1.Start().ok());
  ASSERT_TRUE(n1.Connected("alice", "phone").ok());
  DeleteKeys(*b_, prefix_);  // as if Redis restarted empty
  EXPECT_EQ(*n1.UserConnections("alice"), 0);
  ASSERT_TRUE(Eventually([&] { return *n1.UserConnections("alice") == 1; }));
  EXPECT_TRUE(*n1.DeviceOnline("alice", "phone"));
}

TEST_F(RedisScaleout, RateLimitIsSharedByTwoNodes) {
  // One token per second, 3 at once, one bucket seen by two nodes.
  RedisRateLimiter l1(*a_, "send", 60, 3, {RateLimitFailure::kFailClosed, 5, prefix_});
  RedisRateLimiter l2(*b_, "send", 60, 3, {RateLimitFailure::kFailClosed, 5, prefix_});
  EXPECT_EQ(l1.Allow("alice"), 0);
  EXPECT_EQ(l2.Allow("alice"), 0);
  EXPECT_EQ(l1.Allow("alice"), 0);
  EXPECT_EQ(l2.Allow("alice"), 1);  // the burst is spent across both
  EXPECT_EQ(l1.Allow("alice"), 1);
  EXPECT_EQ(l2.Allow("bob"), 0);    // keys are independent
  RedisRateLimiter other(*a_, "upload", 60, 3, {RateLimitFailure::kFailClosed, 5, prefix_});
  EXPECT_EQ(other.Allow("alice"), 0);  // so are limiters
  std::this_thread::sleep_for(1100ms);  // one token refills
  EXPECT_EQ(l2.Allow("alice"), 0);
  EXPECT_EQ(l1.Allow("alice"), 1);
  // The bucket key expires once it would be full again.
  auto ttl = a_->Command({"PTTL", prefix_ + "rl:send:alice"});
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(ttl->integer, 0);
  EXPECT_LE(ttl->integer, 4000);  // 3 s to refill, plus 1 s
}

TEST_F(RedisScaleout, RateLimitRetrySecondsAndUnlimited) {
  RedisRateLimiter slow(*a_, "login", 6, 1, {RateLimitFailure::kFailClosed, 5, prefix_});
  EXPECT_EQ(slow.Allow("10.0.0.1"), 0);
  EXPECT_EQ(slow.Allow("10.0.0.1"), 10);  // one token per 10 s
  std::string long_key(5000, 'x');  // bounded: hashed
  EXPECT_EQ(slow.Allow(long_key), 0);
  EXPECT_EQ(slow.Allow(long_key), 10);
  RedisRateLimiter none(*a_, "none", 0, 1, {RateLimitFailure::kFailClosed, 5, prefix_});
  EXPECT_TRUE(none.unlimited());
  for (int i = 0; i < 50; ++i) ASSERT_EQ(none.Allow("k"), 0);
}

TEST_F(RedisScaleout, UnreachableRedisFollowsTheFailureMode) {
  RedisOptions o = FastOptions();
  o.connect_timeout_ms = 200;
  RedisClient dead(*ParseRedisUrl("redis://127.0.0.1:1"), o);
  RedisRateLimiter closed(dead, "login", 600, 2, {RateLimitFailure::kFailClosed, 7, prefix_});
  RedisRateLimiter open(dead, "send", 600, 2, {RateLimitFailure::kFailOpen, 7, prefix_});
  RedisRateLimiter local(dead, "send", 600, 2, {RateLimitFailure::kLocalBucket, 7, prefix_});
  EXPECT_EQ(closed.Allow("k"), 7);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(open.Allow("k"), 0);
  EXPECT_EQ(local.Allow("k"), 0);
  EXPECT_EQ(local.Allow("k"), 0);
  EXPECT_EQ(local.Allow("k"), 1);
  RedisConnectionRegistry r(dead, FastRegistry("n1", prefix_));
  EXPECT_EQ(r.Start().error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(r.UserConnections("alice").error().code, ErrorCode::kUnavailable);
}

TEST_F(RedisScaleout, RevocationIsSeenByTheOtherNodeAtOnceAndExpires) {
  RedisRevocationList one(*a_, prefix_), two(*b_, prefix_);
  std::string dev = NewUuidV4(), other = NewUuidV4(), jti = NewUuidV4(), jti2 = NewUuidV4();
  EXPECT_FALSE(*two.IsRevoked(dev, jti));
  ASSERT_TRUE(one.RevokeDevice(dev, 60'000).ok());
  EXPECT_TRUE(*two.IsRevoked(dev, jti));
  EXPECT_TRUE(*two.IsRevoked(dev, jti2));   // every token of the device
  EXPECT_FALSE(*two.IsRevoked(other, jti));
  ASSERT_TRUE(one.DenyToken(jti2, 300).ok());
  EXPECT_TRUE(*two.IsRevoked(other, jti2));  // that one token, whatever the device
  EXPECT_FALSE(*two.IsRevoked(other, jti));
  EXPECT_TRUE(Eventually([&] { return !*two.IsRevoked(other, jti2); }));  // after its TTL
  EXPECT_EQ(one.RevokeDevice("a b", 1000).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(one.DenyToken(jti, 0).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(two.IsRevoked(dev, std::string(200, 'x')).error().code, ErrorCode::kInvalidArgument);
}

TEST_F(RedisScaleout, HotCacheSharesValuesExpiresAndBoundsInput) {
  RedisHotCache one(*a_, prefix_), two(*b_, prefix_);
  EXPECT_FALSE(one.Get("u:1")->has_value());
  std::string binary("a\0b\xff", 4);
  ASSERT_TRUE(one.Set("u:1", binary, 60'000).ok());
  EXPECT_EQ(two.Get("u:1")->value(), binary);
  ASSERT_TRUE(two.Delete("u:1").ok());
  EXPECT_FALSE(one.Get("u:1")->has_value());
  ASSERT_TRUE(two.Delete("u:1").ok());  // absent is fine
  ASSERT_TRUE(one.Set("u:2", "v", 200).ok());
  EXPECT_TRUE(Eventually([&] { return !two.Get("u:2")->has_value(); }));
  EXPECT_EQ(one.Set("u:3", std::string(HotCache::kMaxValueBytes + 1, 'x'), 1000).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(one.Set("a key", "v", 1000).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(one.Set("k", "v", -1).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(one.Get("").error().code, ErrorCode::kInvalidArgument);
}

TEST_F(RedisScaleout, RevocationsAndCacheReportAnUnreachableRedis) {
  RedisOptions o = FastOptions();
  o.connect_timeout_ms = 200;
  RedisClient dead(*ParseRedisUrl("redis://127.0.0.1:1"), o);
  RedisRevocationList revocations(dead, prefix_);
  RedisHotCache cache(dead, prefix_);
  EXPECT_EQ(revocations.IsRevoked(NewUuidV4(), NewUuidV4()).error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(revocations.RevokeDevice(NewUuidV4(), 1000).error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(cache.Get("u:1").error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(cache.Set("u:1", "v", 1000).error().code, ErrorCode::kUnavailable);
}

// A redis-server of the test's own, on a free port, that can be restarted.
class OwnRedis {
 public:
  OwnRedis() : port_(FreePort()) {}
  ~OwnRedis() { Stop(); }
  int port() const { return port_; }
  bool Start() {
    std::string port = std::to_string(port_);
    std::vector<std::string> args{"redis-server", "--port", port, "--bind", "127.0.0.1",
                                  "--save", "", "--appendonly", "no", "--logfile", "/dev/null"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawnp(&pid_, "redis-server", nullptr, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
      return false;
    }
    RedisClient probe(*ParseRedisUrl("redis://127.0.0.1:" + port), FastOptions());
    return Eventually([&] { return probe.Ping().ok(); }, 5000ms);
  }
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  static int FreePort() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    return ntohs(a.sin_port);
  }
  int port_;
  pid_t pid_ = -1;
};

TEST_F(RedisScaleout, ReconnectsAfterRedisRestarts) {
  OwnRedis server;
  ASSERT_TRUE(server.Start()) << "could not start redis-server (is it on PATH?)";
  std::string url = "redis://127.0.0.1:" + std::to_string(server.port());
  RedisClient c(*ParseRedisUrl(url), FastOptions());
  RedisConnectionRegistry node(c, FastRegistry("n1", "parleytest:"));
  ASSERT_TRUE(node.Start().ok());
  ASSERT_TRUE(node.Connected("alice", "phone").ok());
  RedisRateLimiter limiter(c, "send", 600, 1, {RateLimitFailure::kFailClosed, 9, "parleytest:"});
  EXPECT_EQ(limiter.Allow("alice"), 0);

  server.Stop();
  EXPECT_EQ(c.Ping().error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(limiter.Allow("bob"), 9);  // fails closed
  EXPECT_EQ(node.UserConnections("alice").error().code, ErrorCode::kUnavailable);
  // Connections made while Redis is down still count locally and reach Redis later.
  EXPECT_EQ(node.Connected("alice", "laptop").error().code, ErrorCode::kUnavailable);

  ASSERT_TRUE(server.Start());  // empty: nothing was saved
  ASSERT_TRUE(Eventually([&] { return c.Ping().ok(); }));
  EXPECT_EQ(limiter.Allow("bob"), 0);
  ASSERT_TRUE(Eventually([&] {
    auto n = node.UserConnections("alice");
    return n.ok() && *n == 2;
  })) << "the heartbeat thread did not rewrite the node's state";
  EXPECT_TRUE(*node.DeviceOnline("alice", "laptop"));
  node.Stop();
}

}  // namespace
}  // namespace parley::storage::redis
