// The PostgreSQL adapter against a real PostgreSQL (PARLEY_TEST_POSTGRES_URL; the tests fail if
// it is unset): the storage conformance suite, plus what the suite does not cover — the audit
// and notify stores and multi-node behaviour (two stores on one database standing in for two
// parleyd nodes: one-time prekeys claimed once, refresh tokens rotated once).
#include "storage/postgres/postgres_store.h"

#include <future>
#include <set>
#include <thread>

#include "common/ids.h"
#include "common/time.h"
#include "storage/cached_auth_store.h"
#include "storage/redis/redis_hot_cache.h"
#include "storage/conformance/conformance.h"
#include "storage/postgres/pg_test_support.h"

namespace parley::storage::postgres {
namespace {

using conformance::Stores;
using conformance::Wait;
using testing::TestSchema;

std::shared_ptr<PostgresStore> OpenStore(const std::string& url) {
  auto store = std::make_shared<PostgresStore>(PostgresOptions{url});
  Status st = store->Open();
  EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
  return store;
}

// The store is destroyed before the schema it lives in is dropped.
struct Owner {
  std::shared_ptr<TestSchema> schema;
  std::shared_ptr<PostgresStore> store;
  ~Owner() { store.reset(); }
};

Stores OpenStores(std::shared_ptr<TestSchema> schema) {
  auto owner = std::make_shared<Owner>();
  owner->schema = schema;
  owner->store = OpenStore(schema->url());
  PostgresStore* s = owner->store.get();
  Stores out{owner, s, s, s, nullptr};
  out.groups = s;
  out.media = s;
  out.reopen = [owner, schema]() {
    owner->store->Close();
    return OpenStores(schema);
  };
  return out;
}

Stores MakePostgresStores() {
  auto schema = std::make_shared<TestSchema>();
  if (schema->url().empty()) return {};  // a fatal failure is recorded: the body will not run
  return OpenStores(schema);
}

// The scale-out profile's composition: PostgreSQL behind the user cache in Redis
// (PARLEY_TEST_REDIS_URL; keys under a prefix of their own, expiring on their own).
Stores WithRedisUserCache(Stores inner) {
  struct CacheOwner {
    std::shared_ptr<void> inner;
    std::unique_ptr<redis::RedisClient> client;
    std::unique_ptr<redis::RedisHotCache> cache;
    std::unique_ptr<CachedAuthStore> auth;
    ~CacheOwner() { auth.reset(); }
  };
  if (!inner.auth) return inner;
  const char* url = std::getenv("PARLEY_TEST_REDIS_URL");
  auto parsed = redis::ParseRedisUrl(url ? url : "");
  if (!parsed.ok()) {  // a fatal failure in SetUp: the body will not run
    [&] { FAIL() << "PARLEY_TEST_REDIS_URL is not a Redis URL: " << parsed.error().message; }();
    return {};
  }
  auto o = std::make_shared<CacheOwner>();
  o->inner = inner.owner;
  o->client = std::make_unique<redis::RedisClient>(*parsed, redis::RedisOptions{});
  o->cache = std::make_unique<redis::RedisHotCache>(*o->client, "parleytest:" + NewUuidV4() + ":");
  o->auth = std::make_unique<CachedAuthStore>(*inner.auth, *o->cache);
  Stores s = inner;
  s.owner = o;
  s.auth = o->auth.get();
  s.reopen = [reopen = inner.reopen]() { return WithRedisUserCache(reopen()); };
  return s;
}

Stores MakeCachedPostgresStores() { return WithRedisUserCache(MakePostgresStores()); }

using conformance::StoreConformance;
INSTANTIATE_TEST_SUITE_P(Postgres, StoreConformance,
                         ::testing::Values(&MakePostgresStores, &MakeCachedPostgresStores),
                         [](const auto& info) {
                           return std::string(info.index == 0 ? "postgres" : "postgres_redis_user_cache");
                         });

// --- what the conformance suite does not cover ---

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    schema_ = std::make_unique<TestSchema>();
    if (schema_->url().empty()) return;
    store_ = OpenStore(schema_->url());
  }
  void TearDown() override {
    others_.clear();
    store_.reset();
    schema_.reset();
  }
  // Another "node" on the same database.
  PostgresStore& Other() {
    others_.push_back(OpenStore(schema_->url()));
    return *others_.back();
  }
  User AddUser(PostgresStore& s, const std::string& name) {
    User u;
    u.user_id = NewUuidV4();
    u.username = u.display_name = name;
    u.password_hash = "$argon2id$x";
    u.created_at = NowMs();
    EXPECT_TRUE(Wait<Unit>([&](auto d) { s.CreateUser(u, d); }).ok());
    return u;
  }
  Device AddDevice(PostgresStore& s, const User& u) {
    Device d{NewUuidV4(), u.user_id, "phone", NowMs(), 0, false};
    EXPECT_TRUE(Wait<Unit>([&](auto done) { s.CreateDevice(d, done); }).ok());
    return d;
  }

  std::unique_ptr<TestSchema> schema_;
  std::shared_ptr<PostgresStore> store_;
  std::vector<std::shared_ptr<PostgresStore>> others_;
};

TEST_F(PostgresStoreTest, AuditIsNewestFirstFilteredAndPaged) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    AuditEntry e{0, 1000 + i, i % 2 ? "alice" : "bob", "dev", i < 3 ? "login.failure" : "authz.denied",
                 "target" + std::to_string(i), "10.0.0.1", "{\"n\":" + std::to_string(i) + "}"};
    auto id = Wait<int64_t>([&](auto d) { store_->RecordAudit(e, d); });
    ASSERT_TRUE(id.ok()) << id.error().message;
    if (!ids.empty()) {
      EXPECT_GT(*id, ids.back());
    }
    ids.push_back(*id);
  }
  auto all = store_->ListAudit({});
  ASSERT_TRUE(all.ok()) << all.error().message;
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ((*all)[0].id, ids[4]);
  EXPECT_EQ((*all)[0].action, "authz.denied");
  EXPECT_EQ((*all)[0].details, "{\"n\":4}");
  EXPECT_EQ((*all)[0].at, 1004);
  EXPECT_EQ((*all)[4].target, "target0");
  EXPECT_EQ((*all)[4].address, "10.0.0.1");

  auto failures = store_->ListAudit({0, "login.failure", "", 50});
  ASSERT_TRUE(failures.ok());
  ASSERT_EQ(failures->size(), 3u);
  auto alice = store_->ListAudit({0, "", "alice", 50});
  ASSERT_TRUE(alice.ok());
  ASSERT_EQ(alice->size(), 2u);  // entries 1 and 3
  EXPECT_EQ((*alice)[0].id, ids[3]);
  auto page = store_->ListAudit({ids[3], "", "", 2});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].id, ids[2]);
  EXPECT_EQ((*page)[1].id, ids[1]);
  EXPECT_EQ(store_->ListAudit({0, "nope", "", 50})->size(), 0u);
}

TEST_F(PostgresStoreTest, PushEndpointsAreSetReplacedRemovedAndHiddenForRevokedDevices) {
  User u = AddUser(*store_, "carol");
  Device d1 = AddDevice(*store_, u), d2 = AddDevice(*store_, u);
  auto set = [&](const Device& d, std::string endpoint) {
    return Wait<Unit>(
        [&](auto done) { store_->SetPushEndpoint({d.device_id, u.user_id, endpoint}, done); });
  };
  ASSERT_TRUE(set(d1, "https://push.example/a").ok());
  ASSERT_TRUE(set(d2, "https://push.example/b").ok());
  ASSERT_TRUE(set(d1, "https://push.example/a2").ok());
  auto list = store_->ListPushEndpoints();
  ASSERT_TRUE(list.ok()) << list.error().message;
  ASSERT_EQ(list->size(), 2u);
  for (const auto& p : *list) {
    EXPECT_EQ(p.user_id, u.user_id);
    EXPECT_EQ(p.endpoint, p.device_id == d1.device_id ? "https://push.example/a2"
                                                      : "https://push.example/b");
  }
  ASSERT_TRUE(set(d2, "").ok());  // removes
  ASSERT_EQ(store_->ListPushEndpoints()->size(), 1u);
  ASSERT_TRUE(set(d2, "").ok());  // removing again is not an error
  ASSERT_TRUE(
      Wait<Unit>([&](auto done) { store_->RevokeDevice(u.user_id, d1.device_id, done); }).ok());
  EXPECT_EQ(store_->ListPushEndpoints()->size(), 0u);
}

TEST_F(PostgresStoreTest, NotificationsAreNewestFirstPerUserAndPaged) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 4; ++i) {
    Notification n{0, i == 2 ? "other" : "dave", "t" + std::to_string(i), "b", "{}", 100 + i};
    auto id = Wait<int64_t>([&](auto d) { store_->AddNotification(n, d); });
    ASSERT_TRUE(id.ok()) << id.error().message;
    ids.push_back(*id);
  }
  auto mine = store_->ListNotifications("dave", 0, 10);
  ASSERT_TRUE(mine.ok()) << mine.error().message;
  ASSERT_EQ(mine->size(), 3u);
  EXPECT_EQ((*mine)[0].id, ids[3]);
  EXPECT_EQ((*mine)[0].title, "t3");
  EXPECT_EQ((*mine)[0].created_at, 103);
  EXPECT_EQ((*mine)[2].id, ids[0]);
  auto page = store_->ListNotifications("dave", ids[3], 1);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].id, ids[1]);
  EXPECT_EQ(store_->ListNotifications("nobody", 0, 10)->size(), 0u);
}

TEST_F(PostgresStoreTest, TwoNodesClaimingAtOnceNeverShareAOneTimePrekey) {
  PostgresStore& other = Other();
  User u = AddUser(*store_, "erin");
  Device d = AddDevice(*store_, u);
  constexpr int kKeys = 200, kClaimsPerNode = 150;
  DeviceKeys keys{d.device_id, u.user_id, "ik", "sk", {1, "spk", "sig"}, {}};
  for (int i = 1; i <= kKeys; ++i) keys.one_time_prekeys.push_back({i, "otk" + std::to_string(i)});
  ASSERT_TRUE(Wait<Unit>([&](auto done) { store_->PutKeys(keys, 1000, done); }).ok());

  std::mutex mu;
  std::vector<int64_t> claimed;
  std::atomic<int> errors{0}, empty{0};
  auto claim_all = [&](PostgresStore& s) {
    std::vector<std::future<void>> waits;
    for (int i = 0; i < kClaimsPerNode; ++i) {
      auto p = std::make_shared<std::promise<void>>();
      waits.push_back(p->get_future());
      s.ClaimKeys(u.user_id, {}, [&, p](Result<std::vector<DeviceKeys>> r) {
        if (!r.ok() || r->size() != 1) {
          ++errors;
        } else if (r->front().one_time_prekeys.empty()) {
          ++empty;
        } else {
          std::lock_guard lock(mu);
          claimed.push_back(r->front().one_time_prekeys.front().key_id);
        }
        p->set_value();
      });
    }
    for (auto& w : waits) w.wait();
  };
  std::thread a([&] { claim_all(*store_); });
  std::thread b([&] { claim_all(other); });
  a.join();
  b.join();
  EXPECT_EQ(errors.load(), 0);
  std::set<int64_t> distinct(claimed.begin(), claimed.end());
  EXPECT_EQ(distinct.size(), claimed.size()) << "a one-time prekey was handed out twice";
  EXPECT_EQ(claimed.size(), static_cast<size_t>(kKeys));
  EXPECT_EQ(empty.load(), 2 * kClaimsPerNode - kKeys);
  EXPECT_EQ(*store_->CountOneTimePrekeys(d.device_id), 0);
}

TEST_F(PostgresStoreTest, TwoNodesRotatingOneRefreshTokenRotateItOnce) {
  PostgresStore& other = Other();
  User u = AddUser(*store_, "frank");
  Device d = AddDevice(*store_, u);
  std::string hash(32, '\0');  // binary hashes, NULs included, round-trip through BYTEA
  hash[5] = '\xff';
  RefreshToken t{hash, u.user_id, d.device_id, NowMs(), NowMs() + 60000};
  ASSERT_TRUE(Wait<Unit>([&](auto done) { store_->InsertRefreshToken(t, done); }).ok());
  auto rotate = [&](PostgresStore& s, char tag) {
    RefreshToken next{std::string(32, tag), "", "", NowMs(), NowMs() + 60000};
    return std::async(std::launch::async, [&s, next, hash] {
      return Wait<RotateOutcome>(
          [&](auto done) { s.RotateRefreshToken(hash, next, NowMs(), done); });
    });
  };
  auto fa = rotate(*store_, 'a');
  auto fb = rotate(other, 'b');
  auto ra = fa.get(), rb = fb.get();
  ASSERT_TRUE(ra.ok() && rb.ok());
  int rotated = (ra->kind == RotateOutcome::Kind::kRotated) +
                (rb->kind == RotateOutcome::Kind::kRotated);
  int reused = (ra->kind == RotateOutcome::Kind::kReused) +
               (rb->kind == RotateOutcome::Kind::kReused);
  EXPECT_EQ(rotated, 1);
  EXPECT_EQ(reused, 1);
  EXPECT_EQ(ra->user_id, u.user_id);
  EXPECT_EQ(ra->device_id, d.device_id);
}

TEST_F(PostgresStoreTest, ReadersAndTheWriterReconnectAfterTheServerDropsThem) {
  ASSERT_TRUE(store_->Ping().ok());
  User u = AddUser(*store_, "gina");
  auto admin = PgConn::Connect(schema_->url());
  ASSERT_TRUE(admin.ok());
  // Drop every other connection of this test (the store's), as a server restart would.
  auto killed = (*admin)->Exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE pid <> pg_backend_pid() AND application_name = $1",
      {P(schema_->name())});
  ASSERT_TRUE(killed.ok()) << killed.error().message;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // The first read may see the dead link; the next one reconnects.
  auto first = store_->GetUser(u.user_id);
  if (!first.ok()) {
    EXPECT_EQ(first.error().code, ErrorCode::kUnavailable);
  }
  auto again = store_->GetUser(u.user_id);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->username, "gina");
  // The writer re-runs its batch on a new connection (the link died before the COMMIT).
  User v = AddUser(*store_, "hank");
  EXPECT_TRUE(store_->GetUserByUsername("hank").ok());
}

}  // namespace
}  // namespace parley::storage::postgres
