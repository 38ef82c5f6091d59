// SqliteSearchIndex: what matches (AND, prefix, folding, tokens), what never does (operator
// injection, encrypted bodies, other scopes), order, limits and idempotence.
#include "storage/sqlite_search/sqlite_search_index.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <map>
#include <set>

#include "common/ids.h"
#include "storage/sqlite_search/fts_query.h"

namespace parley::storage::sqlite {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

class SearchIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("parley-search-" + NewUuidV4());
    std::filesystem::create_directories(dir_);
    Open();
  }
  void TearDown() override {
    index_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Open() {
    index_.reset();
    index_ = std::make_unique<SqliteSearchIndex>(SearchIndexOptions{(dir_ / "search.db").string()});
    Status st = index_->Open();
    ASSERT_TRUE(st.ok()) << st.error().message;
  }

  IndexOutcome Add(std::vector<Message> messages) {
    std::promise<Result<IndexOutcome>> p;
    index_->Index(std::move(messages), [&p](Result<IndexOutcome> r) { p.set_value(std::move(r)); });
    auto r = p.get_future().get();
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : IndexOutcome{};
  }
  // A plain text message; created_at follows seq unless given.
  Message Plain(const std::string& conv, int64_t seq, const std::string& body, int64_t at = 0) {
    Message m;
    m.message_id = NewUuidV7();
    m.conversation_id = conv;
    m.seq = seq;
    m.created_at = at ? at : kT0 + seq;
    m.content_type = "text";
    m.encryption = "none";
    m.body = body;
    return m;
  }
  Message Sealed(const std::string& conv, int64_t seq, const std::string& body,
                 std::vector<std::string> tokens) {
    Message m = Plain(conv, seq, body);
    m.encryption = "e2ee-v1";
    m.search_tokens = std::move(tokens);
    return m;
  }
  static std::vector<SearchScope> All(std::initializer_list<std::string> convs) {
    std::vector<SearchScope> out;
    for (const auto& c : convs) out.push_back({c, 0, INT64_MAX});
    return out;
  }
  // "conversation:seq" of each hit, newest first.
  std::vector<std::string> Find(std::string_view q, const std::vector<SearchScope>& scopes,
                                int limit = 50) {
    auto r = index_->Search(q, scopes, limit);
    EXPECT_TRUE(r.ok()) << q << ": " << r.error().message;
    std::vector<std::string> out;
    if (!r.ok()) return out;
    for (const auto& h : *r) out.push_back(Short(h.conversation_id) + ":" + std::to_string(h.seq));
    return out;
  }
  std::string Short(const std::string& conv) const {
    for (const auto& [name, id] : names_)
      if (id == conv) return name;
    return conv;
  }
  std::string Conv(const std::string& name) {
    auto it = names_.find(name);
    if (it != names_.end()) return it->second;
    return names_[name] = NewUuidV4();
  }

  std::filesystem::path dir_;
  std::unique_ptr<SqliteSearchIndex> index_;
  std::map<std::string, std::string> names_;
};

using Hits = std::vector<std::string>;

TEST_F(SearchIndexTest, EveryWordMustMatchAndTheLastAlsoAsAPrefix) {
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

TEST_F(SearchIndexTest, CaseAndDiacriticsFoldUnicodeAware) {
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

TEST_F(SearchIndexTest, QuerySyntaxInInputIsOnlyWords) {
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
  EXPECT_EQ(Find("c : " + ConversationTag(a), s), Hits({}));  // cannot reach the tag column
  EXPECT_EQ(Find(ConversationTag(a), s), Hits({}));
  EXPECT_EQ(Find("(plain", s), Hits({"a:6"}));
  EXPECT_EQ(Find("text)", s), Hits({"a:6"}));
  for (const char* q : {"*", "\"", "-", "()", ":", "  ", "\"\" * -"}) {
    auto r = index_->Search(q, s, 10);
    ASSERT_FALSE(r.ok()) << q;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << q;
  }
}

TEST_F(SearchIndexTest, EncryptedMessagesAreFoundOnlyByTheirTokens) {
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

TEST_F(SearchIndexTest, SystemMessagesAreNotIndexed) {
  std::string a = Conv("a");
  Message sys = Plain(a, 1, "alice added bob");
  sys.content_type = "system";
  auto out = Add({sys, Plain(a, 2, "hi bob")});
  EXPECT_EQ(out.indexed, 1);
  EXPECT_EQ(Find("bob", All({a})), Hits({"a:2"}));
  EXPECT_EQ(Find("added", All({a})), Hits({}));
  EXPECT_EQ(index_->IndexedUpTo(a).value(), 2);
}

TEST_F(SearchIndexTest, OnlyTheCallersScopesAndSeqRanges) {
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

TEST_F(SearchIndexTest, NewestFirstAcrossConversationsAndLimit) {
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
  auto r = index_->Search("news", s, 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].created_at, kT0 + 40);
}

TEST_F(SearchIndexTest, ManyConversationsTakeSeveralQueriesAndStayExact) {
  // More scopes than one query's tags and than the untagged-scan threshold, and more hits of
  // others than that scan reads: all three ways of reading are used.
  std::vector<Message> ms;
  std::vector<SearchScope> mine;
  for (int i = 0; i < 6000; ++i) {
    std::string conv = NewUuidV4();
    ms.push_back(Plain(conv, 1, i % 2 ? "common odd" : "common even", kT0 + i));
    if (i % 60 == 0) mine.push_back({conv, 0, i % 120 == 0 ? INT64_MAX : 1});
  }
  Add(ms);
  auto all = index_->Search("common", mine, 200);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 100u);
  for (size_t i = 0; i < all->size(); ++i) EXPECT_EQ((*all)[i].created_at, kT0 + 5940 - 60 * i);
  auto top = index_->Search("common", mine, 7);
  ASSERT_TRUE(top.ok());
  ASSERT_EQ(top->size(), 7u);
  EXPECT_EQ(top->front().created_at, kT0 + 5940);
  EXPECT_EQ(top->back().created_at, kT0 + 5940 - 60 * 6);
  auto odd = index_->Search("common odd", mine, 200);
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(odd->size(), 0u);  // every 26th is even
  auto even = index_->Search("even", mine, 200);
  ASSERT_TRUE(even.ok());
  EXPECT_EQ(even->size(), 100u);
}

TEST_F(SearchIndexTest, IndexingIsIdempotentAndReportsGaps) {
  std::string a = Conv("a");
  EXPECT_EQ(index_->IndexedUpTo(a).value(), 0);
  auto first = Add({Plain(a, 1, "one"), Plain(a, 2, "two")});
  EXPECT_EQ(first.indexed, 2);
  EXPECT_TRUE(first.behind.empty());
  auto again = Add({Plain(a, 2, "two")});
  EXPECT_EQ(again.indexed, 0);
  EXPECT_EQ(Find("two", All({a})), Hits({"a:2"}));
  auto gap = Add({Plain(a, 4, "four")});
  EXPECT_EQ(gap.behind, std::vector<std::string>({a}));
  EXPECT_EQ(index_->IndexedUpTo(a).value(), 2);
  Add({Plain(a, 3, "three"), Plain(a, 4, "four")});
  EXPECT_EQ(index_->IndexedUpTo(a).value(), 4);
  EXPECT_EQ(Find("four", All({a})), Hits({"a:4"}));
}

TEST_F(SearchIndexTest, BoundsWordsAndSurvivesReopen) {
  std::string a = Conv("a");
  Add({Plain(a, 1, "persistent words")});
  std::string q;
  for (int i = 0; i < 17; ++i) q += "w" + std::to_string(i) + " ";
  auto r = index_->Search(q, All({a}), 10);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  Open();
  EXPECT_EQ(Find("persist", All({a})), Hits({"a:1"}));
  EXPECT_EQ(index_->IndexedUpTo(a).value(), 1);
  EXPECT_TRUE(index_->Ping().ok());
}

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
