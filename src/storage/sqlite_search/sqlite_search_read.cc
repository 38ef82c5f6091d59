// SqliteSearchIndex: the reads (Search, IndexedUpTo, Ping) on per-thread read-only connections.
//
// How a search runs: the query's words become one FTS5 MATCH (fts_query.h) read newest first
// (ORDER BY rowid DESC, lazily), and each hit is checked against the caller's scopes: first by
// the conversation hash in its rowid (search_rowid.h), then by docs (its conversation and seq).
// To keep other people's hits from being read at all, the scopes' conversation tags are part of
// the MATCH, up to kTagsPerQuery per query; more scopes take more queries, each bounded below by
// the oldest of the best `limit` hits found so far. Tags cost a lookup per index segment each, so
// a caller in many conversations first scans untagged hits for a while (cheap, thanks to the
// rowid's hash), and goes on with tags only if that did not fill the page.
#include <algorithm>
#include <bitset>
#include <unordered_map>

#include "storage/sqlite_search/fts_query.h"
#include "storage/sqlite_search/search_rowid.h"
#include "storage/sqlite_search/sqlite_search_index.h"

namespace parley::storage::sqlite {

struct SqliteSearchIndex::Reader {
  std::unique_ptr<SqliteConn> conn;
  std::unique_ptr<FtsTokenizer> tokenizer;  // declared after conn: destroyed before it
};

namespace {

constexpr size_t kTagsPerQuery = 64;
constexpr size_t kScanFirstAbove = 32;      // scopes beyond which untagged hits are scanned first
constexpr int64_t kUntaggedBudget = 5000;   // hits read by that scan
constexpr int64_t kMaxCandidates = 50000;   // hits read by one search, at most
// Rowids follow created_at, which may step back with the wall clock: look this far past the
// newest visible message of a conversation the caller has left.
constexpr int64_t kLeftSlack = int64_t{10} * 60 * 1000 * kRowidsPerMs;

struct Chunk {
  std::vector<const SearchScope*> scopes;
  int64_t hi = INT64_MAX;  // no visible hit has a greater rowid
};

// Completions of `prefix` among the indexed words, at most `max` + 1 (so "more than max" shows).
Result<std::vector<std::string>> Completions(SqliteConn& c, const std::string& prefix, size_t max) {
  // Every word starting with `prefix` sorts below prefix + 0xFF (a byte UTF-8 never uses).
  Stmt s = c.Prepare("SELECT term FROM vocab WHERE term >= ?1 AND term < ?2 LIMIT ?3");
  s.Bind(1, prefix).Bind(2, prefix + '\xFF').Bind(3, static_cast<int64_t>(max + 1));
  std::vector<std::string> out;
  while (true) {
    auto row = s.Step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(s.Text(0));
  }
  return out;
}

// The rowid bound of a scope that ends (the caller left): its newest visible indexed message,
// plus slack; 0 if it has none.
Result<int64_t> ClosedScopeBound(SqliteConn& c, const SearchScope& scope) {
  Stmt s = c.Prepare(
      "SELECT d.id, d.seq FROM convs v JOIN docs d ON d.conv = v.num "
      "WHERE v.conversation_id = ? AND d.seq <= ? ORDER BY d.seq DESC LIMIT 1");
  s.Bind(1, scope.conversation_id).Bind(2, scope.max_seq);
  auto row = s.Step();
  if (!row.ok()) return row.error();
  if (!*row || s.Int(1) <= scope.after_seq) return int64_t{0};
  return s.Int(0) > INT64_MAX - kLeftSlack ? INT64_MAX : s.Int(0) + kLeftSlack;
}

// Collects the newest `limit` hits within the scopes over one or more FTS5 queries.
class Collector {
 public:
  Collector(SqliteConn& c, const std::vector<SearchScope>& scopes, int limit)
      : c_(c), limit_(static_cast<size_t>(limit)) {
    for (const auto& s : scopes) {
      by_id_.emplace(s.conversation_id, &s);
      buckets_.set(ConversationBucket(s.conversation_id));
    }
  }

  // Reads hits of `match` with rowid in (floor, hi], newest first, until `limit` of them are in
  // scope, `max_steps` were read, or none are left. Returns whether it read them all; *oldest is
  // the last rowid read.
  Result<bool> Run(const std::string& match, int64_t hi, int64_t max_steps, int64_t* oldest) {
    Stmt s = c_.Prepare(
        "SELECT rowid FROM msg_fts WHERE msg_fts MATCH ?1 AND rowid > ?2 AND rowid <= ?3 "
        "ORDER BY rowid DESC");
    s.Bind(1, match).Bind(2, floor_).Bind(3, hi);
    size_t found = 0;
    bool exhausted = false;
    while (found < limit_) {
      if (max_steps-- <= 0 || budget_-- <= 0) break;
      auto row = s.Step();
      if (!row.ok()) return row.error();
      if (!*row) {
        exhausted = true;
        break;
      }
      int64_t rowid = s.Int(0);
      *oldest = rowid;
      auto hit = Check(rowid);
      if (!hit.ok()) return hit.error();
      if (hit->seq > 0) {
        best_.emplace_back(rowid, std::move(*hit));
        ++found;
      }
    }
    // Keep the newest `limit`: later queries need only look above the oldest of them.
    std::sort(best_.begin(), best_.end(),
              [](const auto& a, const auto& b) { return a.first > b.first; });
    if (best_.size() > limit_) best_.resize(limit_);
    if (best_.size() == limit_) floor_ = best_.back().first;
    return exhausted || found == limit_;
  }

  bool full() const { return best_.size() == limit_; }
  bool out_of_budget() const { return budget_ <= 0; }
  int64_t floor() const { return floor_; }

  std::vector<SearchHit> Take() {
    std::vector<SearchHit> out;
    out.reserve(best_.size());
    for (auto& [rowid, hit] : best_) out.push_back(std::move(hit));
    return out;
  }

 private:
  // The hit at `rowid` if it is in a scope (else seq = 0).
  Result<SearchHit> Check(int64_t rowid) {
    SearchHit hit;
    if (!buckets_.test(BucketOf(rowid))) return hit;  // no conversation of the caller's
    int64_t num = 0, seq = 0;
    {
      Stmt d = c_.Prepare("SELECT conv, seq FROM docs WHERE id = ?");
      d.Bind(1, rowid);
      auto row = d.Step();
      if (!row.ok()) return row.error();
      if (!*row) return hit;
      num = d.Int(0);
      seq = d.Int(1);
    }
    auto it = by_num_.find(num);
    if (it == by_num_.end()) {
      const SearchScope* scope = nullptr;
      Stmt v = c_.Prepare("SELECT conversation_id FROM convs WHERE num = ?");
      v.Bind(1, num);
      auto row = v.Step();
      if (!row.ok()) return row.error();
      if (*row) {
        auto s = by_id_.find(v.Text(0));
        if (s != by_id_.end()) scope = s->second;
      }
      it = by_num_.emplace(num, scope).first;
    }
    const SearchScope* scope = it->second;
    if (!scope || seq <= scope->after_seq || seq > scope->max_seq) return hit;
    hit.conversation_id = scope->conversation_id;
    hit.seq = seq;
    hit.created_at = CreatedAtOf(rowid);
    return hit;
  }

  SqliteConn& c_;
  const size_t limit_;
  std::bitset<size_t{1} << kBucketBits> buckets_;  // of the scopes' conversations
  std::unordered_map<std::string, const SearchScope*> by_id_;
  std::unordered_map<int64_t, const SearchScope*> by_num_;  // nullptr: not the caller's
  std::vector<std::pair<int64_t, SearchHit>> best_;          // (rowid, hit), newest first
  int64_t floor_ = -1;                                       // rowids are >= 0
  int64_t budget_ = kMaxCandidates;
};

}  // namespace

Result<SqliteSearchIndex::Reader*> SqliteSearchIndex::GetReader() {
  thread_local std::unordered_map<uint64_t, std::unique_ptr<Reader>> readers;
  auto it = readers.find(instance_id_);
  if (it != readers.end()) return it->second.get();
  auto conn = SqliteConn::Open(options_.path, SqliteConn::Mode::kReadOnly, options_.synchronous);
  if (!conn.ok()) return conn.error();
  auto tok = FtsTokenizer::Create((*conn)->raw());
  if (!tok.ok()) return tok.error();
  auto reader = std::make_unique<Reader>();
  reader->conn = std::move(*conn);
  reader->tokenizer = std::move(*tok);
  Reader* raw = reader.get();
  readers.emplace(instance_id_, std::move(reader));
  return raw;
}

Result<int64_t> SqliteSearchIndex::IndexedUpTo(std::string_view conversation_id) {
  auto r = GetReader();
  if (!r.ok()) return r.error();
  Stmt s = (*r)->conn->Prepare("SELECT upto FROM convs WHERE conversation_id = ?");
  s.Bind(1, conversation_id);
  auto row = s.Step();
  if (!row.ok()) return row.error();
  return *row ? s.Int(0) : int64_t{0};
}

Status SqliteSearchIndex::Ping() {
  auto r = GetReader();
  if (!r.ok()) return r.error();
  Stmt s = (*r)->conn->Prepare("SELECT 1");
  auto row = s.Step();
  if (!row.ok()) return row.error();
  return OkStatus();
}

Result<std::vector<SearchHit>> SqliteSearchIndex::Search(std::string_view query,
                                                         const std::vector<SearchScope>& scopes,
                                                         int limit) {
  auto r = GetReader();
  if (!r.ok()) return r.error();
  SqliteConn& c = *(*r)->conn;
  auto words = (*r)->tokenizer->TokenizeQuery(query, kMaxSearchWords);
  if (!words.ok()) return words.error();
  if (words->empty()) return MakeError(ErrorCode::kInvalidArgument, "q has no words to search for");
  if (scopes.empty() || limit <= 0) return std::vector<SearchHit>{};

  MatchSpec spec;
  spec.words = std::move(*words);
  size_t last_chars = CharCount(spec.words.back());
  spec.prefix_last = last_chars >= kMinPrefixChars;
  if (last_chars > kMaxIndexedPrefixChars) {
    auto completions = Completions(c, spec.words.back(), kMaxCompletions);
    if (!completions.ok()) return completions.error();
    if (completions->size() <= kMaxCompletions) spec.completions = std::move(*completions);
  }
  if (BuildMatch(spec).empty()) return std::vector<SearchHit>{};  // nothing can match

  // Open scopes in the caller's order; closed ones (the caller left) by their bound.
  std::vector<Chunk> chunks;
  std::vector<std::pair<int64_t, const SearchScope*>> closed;
  size_t visible = 0;
  for (const auto& s : scopes) {
    if (s.max_seq <= s.after_seq) continue;
    ++visible;
    if (s.max_seq == INT64_MAX) {
      if (chunks.empty() || chunks.back().scopes.size() == kTagsPerQuery) chunks.emplace_back();
      chunks.back().scopes.push_back(&s);
      continue;
    }
    auto bound = ClosedScopeBound(c, s);
    if (!bound.ok()) return bound.error();
    if (*bound > 0) closed.emplace_back(*bound, &s);
  }
  std::sort(closed.begin(), closed.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t i = 0; i < closed.size(); ++i) {
    if (i % kTagsPerQuery == 0) {
      chunks.emplace_back();
      chunks.back().hi = closed[i].first;
    }
    chunks.back().scopes.push_back(closed[i].second);
  }

  Collector collector(c, scopes, limit);
  int64_t hi = INT64_MAX;
  if (visible > kScanFirstAbove) {
    int64_t oldest = INT64_MAX;
    auto done = collector.Run(BuildMatch(spec), INT64_MAX, kUntaggedBudget, &oldest);
    if (!done.ok()) return done.error();
    if (*done) return collector.Take();
    hi = oldest - 1;  // everything above was seen
  }
  for (const auto& chunk : chunks) {
    if (collector.out_of_budget()) break;
    int64_t chunk_hi = std::min(hi, chunk.hi);
    if (chunk_hi <= collector.floor()) continue;
    spec.tags.clear();
    for (const auto* s : chunk.scopes) spec.tags.push_back(ConversationTag(s->conversation_id));
    int64_t oldest = 0;
    auto done = collector.Run(BuildMatch(spec), chunk_hi, INT64_MAX, &oldest);
    if (!done.ok()) return done.error();
  }
  return collector.Take();
}

}  // namespace parley::storage::sqlite
