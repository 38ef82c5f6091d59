// OpenSearchIndex: options, threads, index creation and the writes (Index, IndexedUpTo).
#include "storage/opensearch/opensearch_index.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <ctime>
#include <map>
#include <unordered_map>

#include "common/encoding.h"
#include "storage/opensearch/os_tokens.h"

namespace parley::storage::opensearch {

namespace json = boost::json;

namespace {

// The mapping of a month's messages index (see opensearch_index.h).
json::object MessagesIndexBody(int replicas) {
  return json::object{
      {"settings", {{"number_of_shards", 1}, {"number_of_replicas", replicas}}},
      {"mappings",
       {{"dynamic", "strict"},
        {"_source", {{"enabled", false}}},
        {"properties",
         {{"conversation_id", {{"type", "keyword"}}},
          {"seq", {{"type", "long"}}},
          {"created_at", {{"type", "long"}}},
          // A term longer than this is not indexed (Lucene refuses terms over 32 KiB): such a
          // "word" is not searchable here, as in no useful search anyway.
          {"words", {{"type", "keyword"}, {"ignore_above", 256}}},
          {"tokens", {{"type", "keyword"}, {"ignore_above", 256}}}}}}}};
}

json::object ProgressIndexBody(int replicas) {
  return json::object{
      {"settings", {{"number_of_shards", 1}, {"number_of_replicas", replicas}}},
      {"mappings",
       {{"dynamic", "strict"}, {"properties", {{"upto", {{"type", "long"}}}}}}}};
}

}  // namespace

Result<OpenSearchOptions> ParseOpenSearchUrl(std::string_view url) {
  OpenSearchOptions o;
  std::string_view rest;
  for (std::string_view scheme : {"opensearch://", "http://"}) {
    if (url.substr(0, scheme.size()) == scheme) rest = url.substr(scheme.size());
  }
  if (rest.empty())
    return MakeError(ErrorCode::kInvalidArgument,
                     "search URL must be opensearch://HOST:PORT (got '" + std::string(url) + "')");
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || rest.find('/') != std::string_view::npos)
    return MakeError(ErrorCode::kInvalidArgument,
                     "search URL must be opensearch://HOST:PORT (got '" + std::string(url) + "')");
  o.host = std::string(rest.substr(0, colon));
  std::string port(rest.substr(colon + 1));
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p <= 0 || p > 65535)
    return MakeError(ErrorCode::kInvalidArgument,
                     "bad port in search URL '" + std::string(url) + "'");
  o.port = static_cast<int>(p);
  return o;
}

OpenSearchIndex::OpenSearchIndex(OpenSearchOptions options)
    : options_(std::move(options)),
      http_(std::make_unique<OsHttp>(options_.host, options_.port, options_.timeout_ms)) {}

OpenSearchIndex::~OpenSearchIndex() { Close(); }

Status OpenSearchIndex::Open() {
  PARLEY_TRY(Ping());
  PARLEY_TRY(EnsureProgressIndex());
  std::lock_guard lock(mu_);
  open_ = true;
  completer_ = std::thread([this] { CompletionLoop(); });
  writer_ = std::thread([this] { WriterLoop(); });
  return OkStatus();
}

void OpenSearchIndex::Close() {
  {
    std::lock_guard lock(mu_);
    if (!open_) return;
    open_ = false;
    stopping_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();  // drains pending_ first
  {
    std::lock_guard lock(done_mu_);
    done_stopping_ = true;
  }
  done_cv_.notify_all();
  if (completer_.joinable()) completer_.join();
}

namespace {

// Whether a message may give the index something (plaintext words, or the tokens of
// server-assisted search); ContentOf decides what exactly.
bool HasContent(const Message& m) {
  return m.encryption == "none" || (m.search_tokens && !m.search_tokens->empty());
}

}  // namespace

void OpenSearchIndex::Index(std::vector<Message> messages, Done<IndexOutcome> done) {
  {
    std::lock_guard lock(mu_);
    if (open_) {
      for (const auto& m : messages) pending_content_ = pending_content_ || HasContent(m);
      pending_.push_back({std::move(messages), std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  done(OsUnavailable("the search index is closed"));
}

void OpenSearchIndex::WriterLoop() {
  for (;;) {
    std::vector<Call> calls;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) return;  // stopping, nothing left
      if (!pending_content_ && options_.progress_only_gap_ms > 0) {
        cv_.wait_until(lock, last_round_ + std::chrono::milliseconds(options_.progress_only_gap_ms),
                       [this] { return stopping_ || pending_content_; });
      }
      // Everything queued, up to about max_bulk messages, in one round.
      size_t n = 0;
      while (!pending_.empty() && (calls.empty() || n + pending_.front().messages.size() <=
                                                        options_.max_bulk)) {
        n += pending_.front().messages.size();
        calls.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
      pending_content_ = false;
      for (const auto& call : pending_)
        for (const auto& m : call.messages) pending_content_ = pending_content_ || HasContent(m);
    }
    last_round_ = std::chrono::steady_clock::now();
    rounds_.fetch_add(1, std::memory_order_relaxed);
    auto out = std::make_shared<Result<std::vector<IndexOutcome>>>(WriteOrFail(calls));
    auto shared = std::make_shared<std::vector<Call>>(std::move(calls));
    Complete([shared, out] {
      for (size_t i = 0; i < shared->size(); ++i) {
        if (out->ok()) {
          (*shared)[i].done(std::move((**out)[i]));
        } else {
          (*shared)[i].done(out->error());
        }
      }
    });
  }
}

void OpenSearchIndex::Complete(std::function<void()> fn) {
  {
    std::lock_guard lock(done_mu_);
    completions_.push_back(std::move(fn));
  }
  done_cv_.notify_one();
}

void OpenSearchIndex::CompletionLoop() {
  for (;;) {
    std::function<void()> fn;
    {
      std::unique_lock lock(done_mu_);
      done_cv_.wait(lock, [this] { return done_stopping_ || !completions_.empty(); });
      if (completions_.empty()) return;
      fn = std::move(completions_.front());
      completions_.pop_front();
    }
    fn();
  }
}

std::string OpenSearchIndex::MonthIndex(int64_t created_at_ms) const {
  return options_.prefix + "messages-" + OsIndexDate(created_at_ms, false);
}

Status OpenSearchIndex::EnsureIndex(const std::string& name) {
  if (known_indices_.count(name)) return OkStatus();
  auto r = http_->Send("PUT", "/" + name, json::serialize(MessagesIndexBody(options_.replicas)));
  if (!r.ok()) return r.error();
  if (r->status != 200 && r->body.find("resource_already_exists_exception") == std::string::npos)
    return OsRefused("creating index " + name, *r);
  known_indices_.insert(name);
  return OkStatus();
}

Status OpenSearchIndex::EnsureProgressIndex() {
  std::string name = options_.prefix + "search-progress";
  auto r = http_->Send("PUT", "/" + name, json::serialize(ProgressIndexBody(options_.replicas)));
  if (!r.ok()) return r.error();
  if (r->status != 200 && r->body.find("resource_already_exists_exception") == std::string::npos)
    return OsRefused("creating index " + name, *r);
  return OkStatus();
}

Result<std::vector<IndexOutcome>> OpenSearchIndex::WriteOrFail(const std::vector<Call>& calls) {
  try {  // Boost.JSON's accessors throw on an answer of an unexpected shape
    return Write(calls);
  } catch (const std::exception& e) {
    return OsUnavailable(std::string("OpenSearch answered a write oddly: ") + e.what());
  }
}

Result<std::vector<IndexOutcome>> OpenSearchIndex::Write(const std::vector<Call>& calls) {
  const std::string progress_index = options_.prefix + "search-progress";
  // 1. Where each conversation's progress stands.
  std::unordered_map<std::string, int64_t> upto;
  json::array ids;
  for (const auto& call : calls)
    for (const auto& m : call.messages)
      if (upto.emplace(m.conversation_id, 0).second) ids.emplace_back(m.conversation_id);
  if (!ids.empty()) {
    auto r = http_->Send("POST", "/" + progress_index + "/_mget",
                         json::serialize(json::object{{"ids", ids}}));
    if (!r.ok()) return r.error();
    if (r->status != 200) return OsRefused("reading search progress", *r);
    auto parsed = OsParseBody("_mget", *r);
    if (!parsed.ok()) return parsed.error();
    json::value& v = *parsed;
    if (auto* docs = v.as_object().if_contains("docs"); docs && docs->is_array()) {
      for (const auto& d : docs->as_array()) {
        const auto& o = d.as_object();
        auto* found = o.if_contains("found");
        if (!found || !found->is_bool() || !found->as_bool()) continue;
        const auto* src = o.if_contains("_source");
        if (!src || !src->is_object()) continue;
        const auto* u = src->as_object().if_contains("upto");
        if (u && u->is_int64()) upto[json::value_to<std::string>(o.at("_id"))] = u->as_int64();
      }
    }
  }

  // 2. The documents (in order) and the progress they make.
  std::vector<IndexOutcome> outcomes(calls.size());
  std::vector<size_t> doc_call;  // the call of each create action, in order
  std::vector<std::string> bulks;  // of at most max_bulk documents each
  std::set<std::string> dirty;
  auto tokenizer = ThreadTokenizer();
  if (!tokenizer.ok()) return tokenizer.error();
  for (size_t ci = 0; ci < calls.size(); ++ci) {
    for (const auto& m : calls[ci].messages) {
      auto content = ContentOf(**tokenizer, m);
      if (!content.ok()) return content.error();
      if (!content->words.empty() || !content->tokens.empty()) {
        std::string index = MonthIndex(m.created_at);
        PARLEY_TRY(EnsureIndex(index));
        json::object action{{"create",
                             {{"_index", index},
                              {"_id", m.conversation_id + ":" + std::to_string(m.seq)}}}};
        json::object doc{{"conversation_id", m.conversation_id},
                         {"seq", m.seq},
                         {"created_at", m.created_at}};
        if (!content->words.empty())
          doc["words"] = json::array(content->words.begin(), content->words.end());
        if (!content->tokens.empty())
          doc["tokens"] = json::array(content->tokens.begin(), content->tokens.end());
        if (doc_call.size() % options_.max_bulk == 0) bulks.emplace_back();
        std::string& bulk = bulks.back();
        bulk += json::serialize(action);
        bulk += '\n';
        bulk += json::serialize(doc);
        bulk += '\n';
        doc_call.push_back(ci);
      }
      int64_t& u = upto[m.conversation_id];
      if (m.seq == u + 1) {
        u = m.seq;
        dirty.insert(m.conversation_id);
      } else if (m.seq > u + 1) {
        auto& behind = outcomes[ci].behind;
        if (std::find(behind.begin(), behind.end(), m.conversation_id) == behind.end())
          behind.push_back(m.conversation_id);
      }
    }
  }

  // 3. The documents: created, or already there (409). Anything else fails the whole round; its
  // messages are fed again (catch-up), which is safe.
  const std::string refresh = "?refresh=" + options_.refresh;
  size_t done_docs = 0;
  for (const auto& bulk : bulks) {
    size_t n = std::min(options_.max_bulk, doc_call.size() - done_docs);
    auto statuses = OsBulk(*http_, "/_bulk" + refresh, bulk, n, "a bulk write");
    if (!statuses.ok()) return statuses.error();
    for (size_t i = 0; i < n; ++i) {
      int status = (*statuses)[i];
      if (status == 201) {
        ++outcomes[doc_call[done_docs + i]].indexed;
      } else if (status != 409) {
        return OsUnavailable("OpenSearch refused a document (status " + std::to_string(status) +
                             ")");
      }
    }
    done_docs += n;
  }

  // 4. Progress, after the documents it covers. External versions: a lower `upto` written by a
  // slower node is refused (409), never written over a higher one.
  if (!dirty.empty()) {
    std::string pbulk;
    for (const auto& conv : dirty) {
      pbulk += json::serialize(json::object{{"index",
                                             {{"_index", progress_index},
                                              {"_id", conv},
                                              {"version", upto[conv]},
                                              {"version_type", "external"}}}});
      pbulk += '\n';
      pbulk += json::serialize(json::object{{"upto", upto[conv]}});
      pbulk += '\n';
    }
    auto statuses = OsBulk(*http_, "/_bulk", pbulk, dirty.size(), "a progress write");
    if (!statuses.ok()) return statuses.error();
    for (int status : *statuses) {
      if (status != 200 && status != 201 && status != 409)
        return OsUnavailable("OpenSearch refused a progress document (status " +
                             std::to_string(status) + ")");
    }
  }
  return outcomes;
}

Result<int64_t> OpenSearchIndex::IndexedUpTo(std::string_view conversation_id) {
  auto r = http_->Send("GET", "/" + options_.prefix + "search-progress/_doc/" +
                                  PercentEncode(conversation_id),
                       "");
  if (!r.ok()) return r.error();
  if (r->status == 404) return int64_t{0};
  if (r->status != 200) return OsRefused("reading search progress", *r);
  auto parsed = OsParseBody("_doc", *r);
    if (!parsed.ok()) return parsed.error();
    json::value& v = *parsed;
  const auto* src = v.as_object().if_contains("_source");
  if (!src || !src->is_object()) return int64_t{0};
  const auto* u = src->as_object().if_contains("upto");
  return u && u->is_int64() ? u->as_int64() : int64_t{0};
}

Status OpenSearchIndex::Ping() {
  auto r = http_->Send("GET", "/_cluster/health", "");
  if (!r.ok()) return r.error();
  if (r->status != 200) return OsRefused("a health check", *r);
  auto parsed = OsParseBody("_cluster/health", *r);
    if (!parsed.ok()) return parsed.error();
    json::value& v = *parsed;
  const auto* s = v.as_object().if_contains("status");
  if (!s || !s->is_string() || s->as_string() == "red")
    return OsUnavailable("OpenSearch cluster health is red");
  return OkStatus();
}

Status OpenSearchIndex::DropAll() {
  auto r = http_->Send("DELETE", "/" + options_.prefix + "*?expand_wildcards=all", "");
  if (!r.ok()) return r.error();
  if (r->status != 200 && r->status != 404) return OsRefused("deleting indices", *r);
  known_indices_.clear();
  return OkStatus();
}

}  // namespace parley::storage::opensearch
