// SqliteSearchIndex: the SearchIndex conformance suite on SQLite, plus what is particular to FTS5
// (the hidden conversation-tag column, the MATCH expression).
#include "storage/sqlite_search/sqlite_search_index.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <map>
#include <set>

#include "common/ids.h"
#include "storage/conformance/search_index_conformance.h"
#include "storage/sqlite_search/fts_query.h"

namespace parley::storage::sqlite {

using conformance::SearchIndexConformance;

namespace {

// The adapter-independent cases are the conformance suite's
// (storage/conformance/search_index_conformance_test.cc); here it runs on SQLite.
struct SqliteIndexFiles {
  std::filesystem::path dir;
  std::unique_ptr<SqliteSearchIndex> index;
  ~SqliteIndexFiles() {
    index.reset();
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

conformance::IndexUnderTest OpenSqliteIndex(std::shared_ptr<SqliteIndexFiles> files) {
  files->index = std::make_unique<SqliteSearchIndex>(
      SearchIndexOptions{(files->dir / "search.db").string()});
  Status st = files->index->Open();
  EXPECT_TRUE(st.ok()) << st.error().message;
  conformance::IndexUnderTest t;
  t.index = files->index.get();
  t.reopen = [files] {
    files->index.reset();
    return OpenSqliteIndex(files);
  };
  t.owner = files;
  return t;
}

conformance::IndexUnderTest MakeSqliteIndex() {
  auto files = std::make_shared<SqliteIndexFiles>();
  files->dir = std::filesystem::temp_directory_path() / ("parley-search-" + NewUuidV4());
  std::filesystem::create_directories(files->dir);
  return OpenSqliteIndex(files);
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Sqlite, SearchIndexConformance, ::testing::Values(&MakeSqliteIndex));

namespace {

class SqliteSearchIndexTest : public SearchIndexConformance {};

TEST_P(SqliteSearchIndexTest, QueryCannotReachTheConversationTagColumn) {
  std::string a = Conv("a");
  Add({Plain(a, 1, "foo baz")});
  auto s = All({a});
  EXPECT_EQ(Find("c : " + ConversationTag(a), s), Hits({}));
  EXPECT_EQ(Find(ConversationTag(a), s), Hits({}));
}

INSTANTIATE_TEST_SUITE_P(Sqlite, SqliteSearchIndexTest, ::testing::Values(&MakeSqliteIndex));

TEST(BuildMatchTest, QuotesEveryWordAndRestrictsColumns) {
  MatchSpec spec;
  spec.words = {"say\"x", "cafe"};
  spec.tags = {"c1"};
  EXPECT_EQ(BuildMatch(spec),
            "{w k} : \"say\"\"x\" AND (w : \"cafe\"* OR k : \"cafe\") AND c : (\"c1\")");
  spec.completions = std::vector<std::string>{"cafes"};
  spec.tags.clear();
  EXPECT_EQ(BuildMatch(spec), "{w k} : \"say\"\"x\" AND (w : (\"cafes\") OR k : \"cafe\")");
  spec.prefix_last = false;
  EXPECT_EQ(BuildMatch(spec), "{w k} : \"say\"\"x\" AND {w k} : \"cafe\"");
  spec.prefix_last = true;
  spec.words = {"zzzz"};
  spec.completions = std::vector<std::string>{};
  EXPECT_EQ(BuildMatch(spec), "");
}

}  // namespace
}  // namespace parley::storage::sqlite
