// Runs the storage conformance suite on the SQLite adapter.
#include "storage/sqlite/sqlite_store.h"

#include <filesystem>

#include "common/ids.h"
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

using conformance::StoreConformance;
INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformance, ::testing::Values(&MakeSqliteStores),
                         [](const auto&) { return std::string("embedded"); });

}  // namespace
}  // namespace parley::storage::sqlite
