// Runs the storage conformance suite on the SQLite adapter.
#include "storage/sqlite/sqlite_store.h"

#include <filesystem>

#include "common/ids.h"
#include "storage/cached_auth_store.h"
#include "storage/local/memory_cluster_state.h"
#include "storage/conformance/conformance.h"

namespace parley::storage::sqlite {
namespace {

using conformance::Stores;

Stores Open(const std::string& path) {
  auto store = std::make_shared<SqliteStore>(SqliteOptions{path});
  Status st = store->Open();
  EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
  Stores s{store, store.get(), store.get(), store.get(), nullptr};
  s.groups = store.get();
  s.media = store.get();
  s.reopen = [store, path]() {
    store->Close();
    return Open(path);
  };
  return s;
}

Stores MakeSqliteStores() {
  auto dir = std::filesystem::temp_directory_path() / ("parley-conformance-" + NewUuidV4());
  std::filesystem::create_directories(dir);
  return Open((dir / "parley.db").string());
}

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

using conformance::StoreConformance;
INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformance,
                         ::testing::Values(&MakeSqliteStores, &MakeCachedSqliteStores),
                         [](const auto& info) {
                           return std::string(info.index == 0 ? "embedded" : "embedded_user_cache");
                         });

}  // namespace
}  // namespace parley::storage::sqlite
