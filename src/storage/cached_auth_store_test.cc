// CachedAuthStore over a real SqliteStore: hits and misses, what goes into the cache (never the
// password hash), entries it must not trust, and a cache that is down.
#include "storage/cached_auth_store.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/ids.h"
#include "common/time.h"
#include "storage/conformance/conformance.h"
#include "storage/local/memory_cluster_state.h"
#include "storage/sqlite/sqlite_store.h"

namespace parley::storage {
namespace {

using conformance::Wait;

class DownCache final : public HotCache {
 public:
  Result<std::optional<std::string>> Get(std::string_view) override { return Down(); }
  Status Set(std::string_view, std::string_view, int64_t) override { return Down(); }
  Status Delete(std::string_view) override { return Down(); }

 private:
  static Error Down() { return MakeError(ErrorCode::kUnavailable, "cache down"); }
};

class CachedAuthStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("parley-cache-" + NewUuidV4());
    std::filesystem::create_directories(dir_);
    store_ = std::make_unique<sqlite::SqliteStore>(sqlite::SqliteOptions{(dir_ / "p.db").string()});
    ASSERT_TRUE(store_->Open().ok());
    user_.user_id = NewUuidV4();
    user_.username = "dora";
    user_.display_name = "Dora";
    user_.password_hash = "$argon2id$secret";
    user_.created_at = NowMs();
    ASSERT_TRUE(Wait<Unit>([&](auto d) { store_->CreateUser(user_, d); }).ok());
  }
  void TearDown() override {
    store_->Close();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  std::unique_ptr<sqlite::SqliteStore> store_;
  User user_;
};

TEST_F(CachedAuthStoreTest, SecondReadIsAHitAndTheCacheNeverHoldsThePasswordHash) {
  MemoryHotCache cache;
  CachedAuthStore cached(*store_, cache);
  auto first = cached.GetUser(user_.user_id);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(cached.misses(), 1u);
  auto second = cached.GetUser(user_.user_id);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(cached.hits(), 1u);
  EXPECT_EQ(second->display_name, "Dora");
  EXPECT_EQ(second->created_at, user_.created_at);
  EXPECT_TRUE(first->password_hash.empty());
  EXPECT_TRUE(second->password_hash.empty());
  auto raw = cache.Get("u:" + user_.user_id);
  ASSERT_TRUE(raw.ok() && raw->has_value());
  EXPECT_EQ((*raw)->find("argon2id"), std::string::npos) << **raw;
  // Login still gets the hash.
  EXPECT_EQ(cached.GetUserByUsername("dora")->password_hash, "$argon2id$secret");
}

TEST_F(CachedAuthStoreTest, MissesAreNotCached) {
  MemoryHotCache cache;
  CachedAuthStore cached(*store_, cache);
  std::string id = NewUuidV4();
  EXPECT_EQ(cached.GetUser(id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(cache.size(), 0u);
  User late = user_;
  late.user_id = id;
  late.username = "late";
  ASSERT_TRUE(Wait<Unit>([&](auto d) { cached.CreateUser(late, d); }).ok());
  EXPECT_EQ(cached.GetUser(id)->username, "late");
}

TEST_F(CachedAuthStoreTest, AWriteThroughAnotherNodeIsSeenOnceItCommits) {
  MemoryHotCache cache;  // shared, like Redis between two nodes
  CachedAuthStore node1(*store_, cache), node2(*store_, cache);
  ASSERT_FALSE(node1.GetUser(user_.user_id)->is_admin);  // cached by node 1
  ASSERT_TRUE(Wait<Unit>([&](auto d) { node2.SetAdmin(user_.user_id, true, d); }).ok());
  EXPECT_TRUE(node1.GetUser(user_.user_id)->is_admin);
  ASSERT_TRUE(Wait<Unit>([&](auto d) { node2.SetPresence(user_.user_id, "busy", "x", 77, d); }).ok());
  auto u = node1.GetUser(user_.user_id);
  EXPECT_EQ(u->status, "busy");
  EXPECT_EQ(u->last_seen_at, 77);
}

TEST_F(CachedAuthStoreTest, EntriesThatDoNotDecodeOrNameAnotherUserAreIgnored) {
  MemoryHotCache cache;
  CachedAuthStore cached(*store_, cache);
  const std::string key = "u:" + user_.user_id;
  for (std::string bad : {std::string("not json"), std::string("{\"v\":1}"), std::string("[]"),
                          std::string("{\"v\":2,\"user_id\":\"x\"}")}) {
    ASSERT_TRUE(cache.Set(key, bad, 60'000).ok());
    auto u = cached.GetUser(user_.user_id);
    ASSERT_TRUE(u.ok());
    EXPECT_EQ(u->username, "dora") << bad;
  }
  User other = user_;
  other.user_id = NewUuidV4();
  other.username = "mallory";
  ASSERT_TRUE(cache.Set(key, EncodeCachedUser(other), 60'000).ok());
  EXPECT_EQ(cached.GetUser(user_.user_id)->username, "dora");
  EXPECT_EQ(cached.GetUser(user_.user_id)->username, "dora");  // the store's record replaced it
  EXPECT_GE(cached.hits(), 1u);
}

TEST_F(CachedAuthStoreTest, EncodingRoundTripsEveryPublicField) {
  User u = user_;
  u.profile_pic_url = "https://x/y.png";
  u.status = "away";
  u.status_text = "é \" \\ ";
  u.last_seen_at = 42;
  u.is_admin = true;
  auto back = DecodeCachedUser(EncodeCachedUser(u));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->user_id, u.user_id);
  EXPECT_EQ(back->username, u.username);
  EXPECT_EQ(back->display_name, u.display_name);
  EXPECT_EQ(back->profile_pic_url, u.profile_pic_url);
  EXPECT_EQ(back->status, u.status);
  EXPECT_EQ(back->status_text, u.status_text);
  EXPECT_EQ(back->created_at, u.created_at);
  EXPECT_EQ(back->last_seen_at, 42);
  EXPECT_TRUE(back->is_admin);
  EXPECT_TRUE(back->password_hash.empty());
  EXPECT_FALSE(DecodeCachedUser("{\"v\":1,\"user_id\":\"\"}").has_value());
}

TEST_F(CachedAuthStoreTest, ADownCacheFallsBackToTheStore) {
  DownCache cache;
  CachedAuthStore cached(*store_, cache);
  EXPECT_EQ(cached.GetUser(user_.user_id)->username, "dora");
  ASSERT_TRUE(Wait<Unit>([&](auto d) { cached.SetAdmin(user_.user_id, true, d); }).ok());
  EXPECT_TRUE(cached.GetUser(user_.user_id)->is_admin);
  EXPECT_EQ(cached.hits(), 0u);
  // Ids that cannot be cache keys go straight to the store.
  EXPECT_EQ(cached.GetUser(std::string(300, 'a')).error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace parley::storage
