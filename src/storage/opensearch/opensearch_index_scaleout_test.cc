// OpenSearchIndex against a live OpenSearch: PARLEY_TEST_OPENSEARCH_URL (http://host:port, e.g.
// from `deploy/dev.sh env`) must be set, else every test fails. Each test uses its own index
// prefix and deletes its indices. Writes wait for a refresh (refresh=wait_for), so every search
// sees what Index completed.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <future>
#include <thread>

#include "common/ids.h"
#include "storage/conformance/search_index_conformance.h"
#include "storage/opensearch/opensearch_index.h"

namespace parley::storage::opensearch {

using conformance::SearchIndexConformance;

namespace {

// The options of a test's index, or a failure when the engine is not configured.
Result<OpenSearchOptions> TestOptions() {
  const char* url = std::getenv("PARLEY_TEST_OPENSEARCH_URL");
  if (!url || !*url)
    return MakeError(ErrorCode::kInvalidArgument,
                     "PARLEY_TEST_OPENSEARCH_URL is not set: these tests need a live OpenSearch, "
                     "e.g. deploy/dev.sh up && eval \"$(deploy/dev.sh env)\"");
  auto o = ParseOpenSearchUrl(url);
  if (!o.ok()) return o.error();
  o->replicas = 0;
  o->refresh = "wait_for";
  return o;
}

struct TestIndex {
  OpenSearchOptions options;
  std::unique_ptr<OpenSearchIndex> index;
  ~TestIndex() {
    if (index) {
      index->Close();
      (void)index->DropAll();
    }
  }
};

conformance::IndexUnderTest OpenTestIndex(std::shared_ptr<TestIndex> t) {
  conformance::IndexUnderTest u;
  t->index = std::make_unique<OpenSearchIndex>(t->options);
  Status st = t->index->Open();
  EXPECT_TRUE(st.ok()) << st.error().message;
  u.index = t->index.get();
  u.reopen = [t] {
    t->index->Close();  // keeps the indices: the same data, opened again
    return OpenTestIndex(t);
  };
  u.owner = t;
  return u;
}

conformance::IndexUnderTest MakeOpenSearchIndex() {
  auto options = TestOptions();
  if (!options.ok()) {
    ADD_FAILURE() << options.error().message;
    return {};
  }
  auto t = std::make_shared<TestIndex>();
  t->options = *options;
  t->options.prefix = "parleytest-" + NewUuidV4().substr(0, 8) + "-";
  return OpenTestIndex(t);
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(OpenSearch, SearchIndexConformance,
                         ::testing::Values(&MakeOpenSearchIndex));

namespace {

class OpenSearchIndexTest : public SearchIndexConformance {
 protected:
  void SetUp() override {
    SearchIndexConformance::SetUp();
    ASSERT_NE(t_.index, nullptr) << "no OpenSearch to test against";
  }
  OpenSearchIndex& os() { return *static_cast<OpenSearchIndex*>(t_.index); }
};

TEST_P(OpenSearchIndexTest, AnIndexPerMonthSearchedTogether) {
  std::string a = Conv("a");
  int64_t jan = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
  int64_t feb = 1'769'904'000'000;  // 2026-02-01T00:00:00Z
  std::string epoch = os().MonthIndex(0);  // "<prefix>messages-1970.01"
  EXPECT_EQ(os().MonthIndex(jan), epoch.substr(0, epoch.size() - 7) + "2026.01");
  EXPECT_NE(os().MonthIndex(jan - 1), os().MonthIndex(jan));
  EXPECT_EQ(os().MonthIndex(feb - 1), os().MonthIndex(jan));
  Add({Plain(a, 1, "year end", jan - 1), Plain(a, 2, "new year", jan),
       Plain(a, 3, "feb year", feb)});
  EXPECT_EQ(Find("year", All({a})), Hits({"a:3", "a:2", "a:1"}));
  EXPECT_EQ(Find("year", All({a}), 2), Hits({"a:3", "a:2"}));
}

TEST_P(OpenSearchIndexTest, MoreRangedScopesThanOneRequestTakes) {
  std::vector<Message> ms;
  std::vector<SearchScope> scopes;
  for (int i = 0; i < 600; ++i) {
    std::string conv = NewUuidV4();
    ms.push_back(Plain(conv, 1, "ranged", kT0 + i));
    ms.push_back(Plain(conv, 2, "ranged", kT0 + 1000 + i));
    scopes.push_back({conv, 0, 1});  // left after seq 1
  }
  Add(ms);
  auto r = index().Search("ranged", scopes, 10);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 10u);
  for (size_t i = 0; i < r->size(); ++i) {
    EXPECT_EQ((*r)[i].seq, 1);
    EXPECT_EQ((*r)[i].created_at, kT0 + 599 - static_cast<int64_t>(i));
  }
}

TEST_P(OpenSearchIndexTest, MessagesWithNothingToIndexShareARound) {
  // End-to-end encrypted without search tokens: only progress to write, so messages arriving
  // 20 ms apart share rounds (progress_only_gap_ms, 250) instead of taking one round each.
  std::string a = Conv("a");
  Add({Sealed(a, 1, "opaque", {})});
  const uint64_t before = os().rounds();
  std::atomic<int> left{20};
  std::promise<void> all_done;
  for (int64_t seq = 2; seq <= 21; ++seq) {
    index().Index({Sealed(a, seq, "opaque", {})}, [&](Result<IndexOutcome> r) {
      EXPECT_TRUE(r.ok()) << r.error().message;
      if (--left == 0) all_done.set_value();
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  all_done.get_future().wait();
  EXPECT_LE(os().rounds() - before, 3u);
  auto upto = index().IndexedUpTo(a);
  ASSERT_TRUE(upto.ok()) << upto.error().message;
  EXPECT_EQ(*upto, 21);
}

TEST_P(OpenSearchIndexTest, EncryptedBodiesAreNeverSent) {
  // The documents keep no _source: nothing of a message's text comes back, and an encrypted
  // body was never sent at all (only its tokens), so no query on it can match.
  std::string a = Conv("a");
  Add({Sealed(a, 1, "topsecret", {"cafe0001"})});
  EXPECT_EQ(Find("topsecret", All({a})), Hits({}));
  EXPECT_EQ(Find("cafe0001", All({a})), Hits({"a:1"}));
}

TEST(OpenSearchUrlTest, Parses) {
  auto o = ParseOpenSearchUrl("opensearch://10.0.0.5:9201");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->host, "10.0.0.5");
  EXPECT_EQ(o->port, 9201);
  EXPECT_TRUE(ParseOpenSearchUrl("http://h:1/").ok());
  for (const char* bad : {"", "opensearch://", "opensearch://h", "opensearch://h:x",
                          "opensearch://h:0", "redis://h:1", "opensearch://h:1/path"})
    EXPECT_FALSE(ParseOpenSearchUrl(bad).ok()) << bad;
}

TEST(OpenSearchUnreachableTest, OpenFailsUnavailable) {
  OpenSearchOptions o;
  o.port = 1;  // nothing listens there
  o.timeout_ms = 2000;
  OpenSearchIndex index(o);
  Status st = index.Open();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kUnavailable);
  std::promise<Result<IndexOutcome>> p;
  index.Index({}, [&p](Result<IndexOutcome> r) { p.set_value(std::move(r)); });
  auto r = p.get_future().get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(OpenSearch, OpenSearchIndexTest, ::testing::Values(&MakeOpenSearchIndex));

}  // namespace parley::storage::opensearch
