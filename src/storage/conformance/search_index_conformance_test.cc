// The SearchIndex conformance cases (see search_index_conformance.h): what matches (AND, prefix,
// folding, tokens), what never does (query syntax, encrypted bodies, other scopes), order, limits,
// idempotence and progress. Run on SQLite (sqlite_search_index_test.cc) and OpenSearch
// (opensearch_index_scaleout_test.cc).
#include <mutex>
#include <set>

#include "storage/conformance/search_index_conformance.h"

namespace parley::storage::conformance {
namespace {

TEST_P(SearchIndexConformance, EveryWordMustMatchAndTheLastAlsoAsAPrefix) {
  std::string a = Conv("a");
  Add({Plain(a, 1, "the quick brown fox"), Plain(a, 2, "a quick dog"),
       Plain(a, 3, "brown bread, quickly")});
  auto s = All({a});
  EXPECT_EQ(Find("quick brown", s), Hits({"a:1"}));
  EXPECT_EQ(Find("brown quick", s), Hits({"a:3", "a:1"}));  // "quick" prefix of "quickly"
  EXPECT_EQ(Find("quick", s), Hits({"a:3", "a:2", "a:1"}));
  EXPECT_EQ(Find("qu", s), Hits({"a:3", "a:2", "a:1"}));    // short prefix: the prefix index
  EXPECT_EQ(Find("quic", s), Hits({"a:3", "a:2", "a:1"}));  // long prefix: expanded via vocab
  EXPECT_EQ(Find("quickl", s), Hits({"a:3"}));
  EXPECT_EQ(Find("qui fox", s), Hits({}));  // only the last word is a prefix
  EXPECT_EQ(Find("brown cat", s), Hits({}));
  // A one-character last word matches whole words only.
  EXPECT_EQ(Find("a", s), Hits({"a:2"}));
  EXPECT_EQ(Find("b", s), Hits({}));
  EXPECT_EQ(Find("br", s), Hits({"a:3", "a:1"}));
}

TEST_P(SearchIndexConformance, CaseAndDiacriticsFoldUnicodeAware) {
  std::string a = Conv("a");
  Add({Plain(a, 1, "Ünïcode everywhere"), Plain(a, 2, "plain unicode"),
       Plain(a, 3, "ПРИВЕТ мир"), Plain(a, 4, "Ελληνικά ΚΕΙΜΕΝΟ"), Plain(a, 5, "Crème BRÛLÉE")});
  auto s = All({a});
  EXPECT_EQ(Find("unicode", s), Hits({"a:2", "a:1"}));
  EXPECT_EQ(Find("ÜNÏCODE", s), Hits({"a:2", "a:1"}));
  EXPECT_EQ(Find("привет", s), Hits({"a:3"}));
  EXPECT_EQ(Find("кеймено", s), Hits({}));
  EXPECT_EQ(Find("κειμενο", s), Hits({"a:4"}));
  EXPECT_EQ(Find("creme brulee", s), Hits({"a:5"}));
  EXPECT_EQ(Find("brul", s), Hits({"a:5"}));
}

TEST_P(SearchIndexConformance, QuerySyntaxInInputIsOnlyWords) {
  std::string a = Conv("a");
  Add({Plain(a, 1, "foo baz"), Plain(a, 2, "bar baz"), Plain(a, 3, "foo or bar"),
       Plain(a, 4, "near foo bar"), Plain(a, 5, "x marks"), Plain(a, 6, "plain text")});
  auto s = All({a});
  EXPECT_EQ(Find("foo OR bar", s), Hits({"a:3"}));  // "or" is a word that must be there
  EXPECT_EQ(Find("NOT baz", s), Hits({}));
  EXPECT_EQ(Find("foo AND", s), Hits({}));
  EXPECT_EQ(Find("NEAR(foo bar)", s), Hits({"a:4"}));
  EXPECT_EQ(Find("\"foo", s), Hits({"a:4", "a:3", "a:1"}));
  EXPECT_EQ(Find("foo\"\" OR \"\"bar", s), Hits({"a:3"}));
  EXPECT_EQ(Find("fo*", s), Hits({"a:4", "a:3", "a:1"}));
  EXPECT_EQ(Find("-x", s), Hits({"a:5"}));
  EXPECT_EQ(Find("^foo", s), Hits({"a:4", "a:3", "a:1"}));
  EXPECT_EQ(Find("w : baz", s), Hits({}));   // "w" is a word too, and no message has it
  EXPECT_EQ(Find("{w k} : foo", s), Hits({}));
  EXPECT_EQ(Find("(plain", s), Hits({"a:6"}));
  EXPECT_EQ(Find("text)", s), Hits({"a:6"}));
  for (const char* q : {"*", "\"", "-", "()", ":", "  ", "\"\" * -"}) {
    auto r = index().Search(q, s, 10);
    ASSERT_FALSE(r.ok()) << q;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << q;
  }
}

TEST_P(SearchIndexConformance, EncryptedMessagesAreFoundOnlyByTheirTokens) {
  std::string a = Conv("a");
  Add({Sealed(a, 1, "secret words ciphertext", {"a1b2c3d4", "deadbeef"}),
       Sealed(a, 2, "no tokens at all", {}), Plain(a, 3, "deadbeef in plain text")});
  auto s = All({a});
  EXPECT_EQ(Find("secret", s), Hits({}));
  EXPECT_EQ(Find("ciphertext", s), Hits({}));
  EXPECT_EQ(Find("tokens", s), Hits({}));
  EXPECT_EQ(Find("a1b2c3d4", s), Hits({"a:1"}));
  EXPECT_EQ(Find("A1B2C3D4", s), Hits({"a:1"}));  // case folding leaves hex intact
  EXPECT_EQ(Find("deadbeef a1b2c3d4", s), Hits({"a:1"}));
  EXPECT_EQ(Find("a1b2", s), Hits({}));  // tokens match whole, never as a prefix
  EXPECT_EQ(Find("deadbeef", s), Hits({"a:3", "a:1"}));
  EXPECT_EQ(Find("dead", s), Hits({"a:3"}));  // the plain word, as a prefix
}

TEST_P(SearchIndexConformance, SystemMessagesAreNotIndexed) {
  std::string a = Conv("a");
  Message sys = Plain(a, 1, "alice added bob");
  sys.content_type = "system";
  auto out = Add({sys, Plain(a, 2, "hi bob")});
  EXPECT_EQ(out.indexed, 1);
  EXPECT_EQ(Find("bob", All({a})), Hits({"a:2"}));
  EXPECT_EQ(Find("added", All({a})), Hits({}));
  EXPECT_EQ(index().IndexedUpTo(a).value(), 2);
}

TEST_P(SearchIndexConformance, OnlyTheCallersScopesAndSeqRanges) {
  std::string a = Conv("a"), b = Conv("b");
  std::vector<Message> ms;
  for (int i = 1; i <= 6; ++i) ms.push_back(Plain(a, i, "hello " + std::to_string(i)));
  ms.push_back(Plain(b, 1, "hello from b", kT0 + 100));
  Add(ms);
  EXPECT_EQ(Find("hello", All({a}), 3), Hits({"a:6", "a:5", "a:4"}));
  EXPECT_EQ(Find("hello", All({b})), Hits({"b:1"}));
  EXPECT_EQ(Find("hello", {}), Hits({}));
  // Joined after seq 2, left at seq 4: sees 3 and 4.
  EXPECT_EQ(Find("hello", {{a, 2, 4}}), Hits({"a:4", "a:3"}));
  EXPECT_EQ(Find("hello", {{a, 2, INT64_MAX}}, 50), Hits({"a:6", "a:5", "a:4", "a:3"}));
  EXPECT_EQ(Find("hello", {{a, 0, 1}, {b, 0, INT64_MAX}}), Hits({"b:1", "a:1"}));
  EXPECT_EQ(Find("hello", {{a, 3, 3}}), Hits({}));
  EXPECT_EQ(Find("hello", {{NewUuidV4(), 0, INT64_MAX}}), Hits({}));
}

TEST_P(SearchIndexConformance, NewestFirstAcrossConversationsAndLimit) {
  std::string a = Conv("a"), b = Conv("b"), c = Conv("c");
  Add({Plain(a, 1, "news one", kT0 + 10), Plain(b, 1, "news two", kT0 + 20),
       Plain(a, 2, "news three", kT0 + 30), Plain(c, 1, "news four", kT0 + 40),
       Plain(b, 2, "news five", kT0 + 40)});  // same millisecond as c:1: either order
  auto s = All({a, b, c});
  auto all = Find("news", s);
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(std::set<std::string>(all.begin(), all.begin() + 2),
            std::set<std::string>({"b:2", "c:1"}));
  EXPECT_EQ(Hits(all.begin() + 2, all.end()), Hits({"a:2", "b:1", "a:1"}));
  EXPECT_EQ(Find("news", s, 2).size(), 2u);
  EXPECT_EQ(Find("news", s, 3).back(), "a:2");
  auto r = index().Search("news", s, 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].created_at, kT0 + 40);
}

TEST_P(SearchIndexConformance, ManyConversationsTakeSeveralQueriesAndStayExact) {
  // Many scopes, some limited in seq, among many more conversations of others (the SQLite
  // adapter reads this in all three of its ways; OpenSearch in one request).
  std::vector<Message> ms;
  std::vector<SearchScope> mine;
  for (int i = 0; i < 6000; ++i) {
    std::string conv = NewUuidV4();
    ms.push_back(Plain(conv, 1, i % 2 ? "common odd" : "common even", kT0 + i));
    if (i % 60 == 0) mine.push_back({conv, 0, i % 120 == 0 ? INT64_MAX : 1});
  }
  Add(ms);
  auto all = index().Search("common", mine, 200);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 100u);
  for (size_t i = 0; i < all->size(); ++i) EXPECT_EQ((*all)[i].created_at, kT0 + 5940 - 60 * i);
  auto top = index().Search("common", mine, 7);
  ASSERT_TRUE(top.ok());
  ASSERT_EQ(top->size(), 7u);
  EXPECT_EQ(top->front().created_at, kT0 + 5940);
  EXPECT_EQ(top->back().created_at, kT0 + 5940 - 60 * 6);
  auto odd = index().Search("common odd", mine, 200);
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(odd->size(), 0u);  // every 26th is even
  auto even = index().Search("even", mine, 200);
  ASSERT_TRUE(even.ok());
  EXPECT_EQ(even->size(), 100u);
}

TEST_P(SearchIndexConformance, IndexingIsIdempotentAndReportsGaps) {
  std::string a = Conv("a");
  EXPECT_EQ(index().IndexedUpTo(a).value(), 0);
  auto first = Add({Plain(a, 1, "one"), Plain(a, 2, "two")});
  EXPECT_EQ(first.indexed, 2);
  EXPECT_TRUE(first.behind.empty());
  auto again = Add({Plain(a, 2, "two")});
  EXPECT_EQ(again.indexed, 0);
  EXPECT_EQ(Find("two", All({a})), Hits({"a:2"}));
  auto gap = Add({Plain(a, 4, "four")});
  EXPECT_EQ(gap.behind, std::vector<std::string>({a}));
  EXPECT_EQ(index().IndexedUpTo(a).value(), 2);
  Add({Plain(a, 3, "three"), Plain(a, 4, "four")});
  EXPECT_EQ(index().IndexedUpTo(a).value(), 4);
  EXPECT_EQ(Find("four", All({a})), Hits({"a:4"}));
}

TEST_P(SearchIndexConformance, BoundsWordsAndSurvivesReopen) {
  std::string a = Conv("a");
  Add({Plain(a, 1, "persistent words")});
  std::string q;
  for (int i = 0; i < 17; ++i) q += "w" + std::to_string(i) + " ";
  auto r = index().Search(q, All({a}), 10);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  Reopen();
  EXPECT_EQ(Find("persist", All({a})), Hits({"a:1"}));
  EXPECT_EQ(index().IndexedUpTo(a).value(), 1);
  EXPECT_TRUE(index().Ping().ok());
}

TEST_P(SearchIndexConformance, RepeatsWithinOneCallAndEmptyRangesAreHarmless) {
  std::string a = Conv("a"), b = Conv("b");
  auto out = Add({Plain(a, 1, "twice"), Plain(a, 1, "twice"), Plain(b, 1, "twice")});
  EXPECT_EQ(out.indexed, 2);
  EXPECT_EQ(Find("twice", {{a, 1, 1}, {b, 5, 2}}), Hits({}));
  EXPECT_EQ(Find("twice", {{a, 0, 1}}), Hits({"a:1"}));
  EXPECT_EQ(index().IndexedUpTo(a).value(), 1);
  EXPECT_EQ(index().IndexedUpTo(Conv("never")).value(), 0);
}

TEST_P(SearchIndexConformance, WordsAreSplitAtEveryNonAlphanumeric) {
  std::string a = Conv("a");
  Add({Plain(a, 1, "foo-bar it's e@mail.com 3.14 x_y")});
  auto s = All({a});
  for (const char* q : {"foo", "bar", "it", "s", "mail", "com", "14", "x", "y", "foo bar"})
    EXPECT_EQ(Find(q, s), Hits({"a:1"})) << q;
  EXPECT_EQ(Find("foo-bar", s), Hits({"a:1"}));
  EXPECT_EQ(Find("e@mail", s), Hits({"a:1"}));
}

TEST_P(SearchIndexConformance, ManyIndexCallsCompleteInSubmitOrder) {
  std::string a = Conv("a");
  std::mutex mu;
  std::vector<int64_t> order;
  std::vector<std::future<void>> waits;
  std::vector<std::shared_ptr<std::promise<void>>> ps;
  for (int i = 1; i <= 40; ++i) {
    auto p = std::make_shared<std::promise<void>>();
    waits.push_back(p->get_future());
    index().Index({Plain(a, i, "burst " + std::to_string(i))}, [&mu, &order, i, p](auto r) {
      EXPECT_TRUE(r.ok());
      {
        std::lock_guard lock(mu);
        order.push_back(i);
      }
      p->set_value();
    });
  }
  for (auto& w : waits) w.get();
  for (size_t i = 0; i < order.size(); ++i) EXPECT_EQ(order[i], static_cast<int64_t>(i + 1));
  EXPECT_EQ(index().IndexedUpTo(a).value(), 40);
  EXPECT_EQ(Find("burst", All({a}), 3), Hits({"a:40", "a:39", "a:38"}));
}

}  // namespace
}  // namespace parley::storage::conformance
