// OpenSearchIndex::Search: the query as JSON (never query syntax), filtered by the caller's scopes.
#include <algorithm>
#include <boost/json.hpp>

#include "storage/opensearch/opensearch_index.h"
#include "storage/opensearch/os_tokens.h"

namespace parley::storage::opensearch {

namespace json = boost::json;

namespace {

// Scopes limited in seq (each a clause of its own) per request: far below OpenSearch's default
// limit of 1024 clauses. Unlimited scopes share one terms query (no clause limit to speak of).
constexpr size_t kRangedScopesPerQuery = 256;
constexpr size_t kOpenScopesPerQuery = 8192;

json::object Term(const char* field, const std::string& value) {
  return json::object{{"term", {{field, value}}}};
}

// One word: in the words of a plain message or the tokens of an encrypted one; the last word
// (2+ characters) also as a prefix of a plain message's word, never of a token (a keyed hash:
// only equality means anything).
json::object WordClause(const std::string& word, bool prefix) {
  json::array should{Term("words", word), Term("tokens", word)};
  if (prefix) should.push_back(json::object{{"prefix", {{"words", word}}}});
  return json::object{{"bool", {{"should", std::move(should)}, {"minimum_should_match", 1}}}};
}

}  // namespace

Result<std::vector<SearchHit>> OpenSearchIndex::Search(std::string_view query,
                                                       const std::vector<SearchScope>& scopes,
                                                       int limit) {
  auto tokenizer = ThreadTokenizer();
  if (!tokenizer.ok()) return tokenizer.error();
  auto words = (*tokenizer)->TokenizeQuery(query, kMaxSearchWords);
  if (!words.ok()) return words.error();
  if (words->empty()) return MakeError(ErrorCode::kInvalidArgument, "q has no words to search for");
  if (scopes.empty() || limit <= 0) return std::vector<SearchHit>{};

  json::array word_filters;
  for (size_t i = 0; i < words->size(); ++i) {
    bool last = i + 1 == words->size();
    bool prefix = last && sqlite::CharCount((*words)[i]) >= sqlite::kMinPrefixChars;
    word_filters.push_back(WordClause((*words)[i], prefix));
  }

  // Scopes into requests: open ones (the whole conversation after joining) in one terms query,
  // ranged ones (the caller left) as conversation + seq range each.
  struct Chunk {
    json::array open;
    json::array ranged;
  };
  std::vector<Chunk> chunks(1);
  for (const auto& s : scopes) {
    if (s.max_seq <= s.after_seq) continue;
    Chunk* c = &chunks.back();
    bool open = s.max_seq == INT64_MAX && s.after_seq == 0;
    if ((open && c->open.size() == kOpenScopesPerQuery) ||
        (!open && c->ranged.size() == kRangedScopesPerQuery))
      c = &chunks.emplace_back();
    if (open) {
      c->open.emplace_back(s.conversation_id);
    } else {
      json::object range{{"gt", s.after_seq}};
      if (s.max_seq != INT64_MAX) range["lte"] = s.max_seq;
      c->ranged.push_back(json::object{
          {"bool",
           {{"filter", json::array{Term("conversation_id", s.conversation_id),
                                   json::object{{"range", {{"seq", std::move(range)}}}}}}}}});
    }
  }

  std::vector<SearchHit> hits;
  for (auto& c : chunks) {
    json::array should = std::move(c.ranged);
    if (!c.open.empty())
      should.push_back(json::object{{"terms", {{"conversation_id", std::move(c.open)}}}});
    if (should.empty()) continue;
    json::array filter = word_filters;
    filter.push_back(
        json::object{{"bool", {{"should", std::move(should)}, {"minimum_should_match", 1}}}});
    json::object body{
        {"size", limit},
        {"track_total_hits", false},
        {"_source", false},
        {"sort", json::array{json::object{{"created_at", "desc"}}}},
        {"query", {{"bool", {{"filter", std::move(filter)}}}}}};
    Result<std::vector<SearchHit>> part = std::vector<SearchHit>{};
    try {  // Boost.JSON's accessors throw on an answer of an unexpected shape
      part = SearchOnce(json::serialize(body));
    } catch (const std::exception& e) {
      return MakeError(ErrorCode::kUnavailable,
                       std::string("OpenSearch answered a search oddly: ") + e.what());
    }
    if (!part.ok()) return part.error();
    for (auto& h : *part) hits.push_back(std::move(h));
  }
  if (chunks.size() > 1) {
    std::stable_sort(hits.begin(), hits.end(), [](const SearchHit& a, const SearchHit& b) {
      return a.created_at > b.created_at;
    });
    if (hits.size() > static_cast<size_t>(limit)) hits.resize(static_cast<size_t>(limit));
  }
  return hits;
}

Result<std::vector<SearchHit>> OpenSearchIndex::SearchOnce(const std::string& body) {
  auto r = http_->Send("POST",
                       "/" + options_.prefix +
                           "messages-*/_search?ignore_unavailable=true&allow_no_indices=true",
                       body);
  if (!r.ok()) return r.error();
  if (r->status != 200) return OsRefused("a search", *r);
  auto parsed = OsParseBody("a search", *r);
  if (!parsed.ok()) return parsed.error();
  const json::value& v = *parsed;
  std::vector<SearchHit> out;
  const auto* outer = v.as_object().if_contains("hits");
  const auto* inner =
      outer && outer->is_object() ? outer->as_object().if_contains("hits") : nullptr;
  if (!inner || !inner->is_array()) return out;
  for (const auto& h : inner->as_array()) {
    if (!h.is_object()) continue;
    const auto* id = h.as_object().if_contains("_id");
    const auto* sort = h.as_object().if_contains("sort");
    if (!id || !id->is_string() || !sort || !sort->is_array() || sort->as_array().empty())
      continue;
    std::string_view sid = id->as_string();
    auto colon = sid.rfind(':');
    if (colon == std::string_view::npos) continue;
    SearchHit hit;
    hit.conversation_id = std::string(sid.substr(0, colon));
    hit.seq = std::strtoll(std::string(sid.substr(colon + 1)).c_str(), nullptr, 10);
    const auto& at = sort->as_array()[0];
    hit.created_at = at.is_int64() ? at.as_int64() : 0;
    out.push_back(std::move(hit));
  }
  return out;
}

}  // namespace parley::storage::opensearch
