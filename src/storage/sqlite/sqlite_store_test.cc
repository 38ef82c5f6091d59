// Runs the storage conformance suite on the SQLite adapter.
#include "storage/sqlite/sqlite_store.h"

#include <chrono>
#include <filesystem>

#include "common/ids.h"
#include "storage/cached_auth_store.h"
#include "storage/local/memory_cluster_state.h"
#include "storage/conformance/conformance.h"

namespace parley::storage::sqlite {
namespace {

using conformance::Stores;

Stores Open(const std::string& path, std::chrono::milliseconds commit_every) {
  SqliteOptions options{path};
  options.commit_every = commit_every;
  auto store = std::make_shared<SqliteStore>(options);
  Status st = store->Open();
  EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
  Stores s{store, store.get(), store.get(), store.get(), nullptr};
  s.groups = store.get();
  s.media = store.get();
  s.reopen = [store, path, commit_every]() {
    store->Close();
    return Open(path, commit_every);
  };
  return s;
}

Stores MakeStores(std::chrono::milliseconds commit_every) {
  auto dir = std::filesystem::temp_directory_path() / ("parley-conformance-" + NewUuidV4());
  std::filesystem::create_directories(dir);
  return Open((dir / "parley.db").string(), commit_every);
}

// The default: sends and marks durable in the redo log, committed every 10 ms.
Stores MakeSqliteStores() { return MakeStores(SqliteOptions{}.commit_every); }
// Commits so rare that every read after a write depends on Reader() making it visible.
Stores MakeRareCommitStores() { return MakeStores(std::chrono::milliseconds(60000)); }
// No redo log: every batch commits.
Stores MakeNoLogStores() { return MakeStores(std::chrono::milliseconds(0)); }

// The same store behind the user cache of the scale-out profile (a cache in memory here; on
// Redis in parley_scaleout_tests).
Stores Cached(Stores inner) {
  struct Owner {
    std::shared_ptr<void> inner;
    MemoryHotCache cache;
    std::unique_ptr<CachedAuthStore> auth;
  };
  auto o = std::make_shared<Owner>();
  o->inner = inner.owner;
  o->auth = std::make_unique<CachedAuthStore>(*inner.auth, o->cache);
  Stores s = inner;
  s.owner = o;
  s.auth = o->auth.get();
  s.reopen = [reopen = inner.reopen]() { return Cached(reopen()); };
  return s;
}

Stores MakeCachedSqliteStores() { return Cached(MakeSqliteStores()); }

const char* VariantName(size_t i) {
  static const char* const kNames[] = {"embedded", "embedded_user_cache", "embedded_rare_commits",
                                       "embedded_no_log"};
  return kNames[i];
}

using conformance::StoreConformance;
INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformance,
                         ::testing::Values(&MakeSqliteStores, &MakeCachedSqliteStores,
                                           &MakeRareCommitStores, &MakeNoLogStores),
                         [](const auto& info) { return std::string(VariantName(info.index)); });

}  // namespace
}  // namespace parley::storage::sqlite
