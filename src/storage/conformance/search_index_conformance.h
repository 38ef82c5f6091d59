// The SearchIndex conformance suite: every adapter of SearchIndex (storage/search_index.h) must
// pass it. An adapter's test file provides a factory and instantiates the suite:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, SearchIndexConformance, ::testing::Values(&MakeSqliteIndex));
//
// The factory opens a fresh, empty index each call; `reopen` opens the same data again (closing
// this one first). Index must make its writes searchable before `done` runs (an adapter whose
// search lags its writes, like OpenSearch's refresh, is configured to wait in tests).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/ids.h"
#include "storage/search_index.h"

namespace parley::storage::conformance {

struct IndexUnderTest {
  std::shared_ptr<void> owner;  // keeps the adapter (and its files) alive
  SearchIndex* index = nullptr;
  std::function<IndexUnderTest()> reopen;
};

using SearchIndexFactory = IndexUnderTest (*)();

class SearchIndexConformance : public ::testing::TestWithParam<SearchIndexFactory> {
 protected:
  static constexpr int64_t kT0 = 1'700'000'000'000;
  using Hits = std::vector<std::string>;

  void SetUp() override {
    t_ = GetParam()();
    ASSERT_NE(t_.index, nullptr) << "the adapter did not open";
  }
  void TearDown() override { t_ = {}; }
  void Reopen() {
    auto again = t_.reopen;
    t_ = {};  // closes the old one first
    t_ = again();
  }
  SearchIndex& index() { return *t_.index; }

  IndexOutcome Add(std::vector<Message> messages) {
    std::promise<Result<IndexOutcome>> p;
    index().Index(std::move(messages), [&p](Result<IndexOutcome> r) { p.set_value(std::move(r)); });
    auto r = p.get_future().get();
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : IndexOutcome{};
  }
  // A plain text message; created_at follows seq unless given.
  static Message Plain(const std::string& conv, int64_t seq, const std::string& body,
                       int64_t at = 0) {
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
  static Message Sealed(const std::string& conv, int64_t seq, const std::string& body,
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
  Hits Find(std::string_view q, const std::vector<SearchScope>& scopes, int limit = 50) {
    auto r = index().Search(q, scopes, limit);
    EXPECT_TRUE(r.ok()) << q << ": " << r.error().message;
    Hits out;
    if (!r.ok()) return out;
    for (const auto& h : *r) out.push_back(Short(h.conversation_id) + ":" + std::to_string(h.seq));
    return out;
  }
  std::string Short(const std::string& conv) const {
    for (const auto& [name, id] : names_)
      if (id == conv) return name;
    return conv;
  }
  // A fresh conversation id per name (per test).
  std::string Conv(const std::string& name) {
    auto it = names_.find(name);
    if (it != names_.end()) return it->second;
    return names_[name] = NewUuidV4();
  }

  IndexUnderTest t_;
  std::map<std::string, std::string> names_;
};

}  // namespace parley::storage::conformance
