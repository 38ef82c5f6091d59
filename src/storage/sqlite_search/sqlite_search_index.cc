// SqliteSearchIndex: schema, opening, and the writes (Index).
#include "storage/sqlite_search/sqlite_search_index.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "common/thread_priority.h"
#include "storage/sqlite/sqlite_store.h"
#include "storage/sqlite_search/fts_query.h"
#include "storage/sqlite_search/search_rowid.h"

namespace parley::storage::sqlite {

namespace detail {
// One Index call waiting for the writer.
struct PendingIndex {
  std::vector<Message> messages;
  Done<IndexOutcome> done;
};

struct SearchWriterState {
  // Index calls are queued here and drained by one writer job at a time, so everything that
  // arrived during a commit is written by ONE job: FTS5 flushes its pending terms into a new
  // segment at every savepoint, and the writer gives each job its own savepoint.
  std::mutex pending_mu;
  std::vector<PendingIndex> pending;  // guarded by pending_mu
  bool drain_queued = false;          // guarded by pending_mu

  std::unique_ptr<FtsTokenizer> tokenizer;  // of the writer's connection: writer thread only
  // Words known to be committed to vocab, so most need no write. Filled from completions (only
  // what committed), read by the writer thread; bounded.
  std::mutex known_mu;
  std::unordered_set<std::string> known;  // guarded by known_mu
  static constexpr size_t kMaxKnown = 1 << 20;

  bool Known(const std::string& term) {
    std::lock_guard lock(known_mu);
    return known.count(term) > 0;
  }
  void Committed(std::vector<std::string>& terms) {
    std::lock_guard lock(known_mu);
    for (auto& t : terms) {
      if (known.size() >= kMaxKnown) known.clear();
      known.insert(std::move(t));
    }
  }
};
}  // namespace detail

namespace {

std::atomic<uint64_t> g_next_instance{1};

// Append only (see schema.cc). The tokenize option must stay what fts_query.h's tokenizer is.
constexpr std::array<const char*, 1> kMigrations = {
    R"sql(
CREATE VIRTUAL TABLE msg_fts USING fts5(w, k, c, content='', detail=column, prefix='2 3',
  tokenize='unicode61 remove_diacritics 2');
CREATE TABLE convs(
  num INTEGER PRIMARY KEY,
  conversation_id TEXT NOT NULL UNIQUE,
  upto INTEGER NOT NULL DEFAULT 0);
CREATE TABLE docs(
  id INTEGER PRIMARY KEY,
  conv INTEGER NOT NULL,
  seq INTEGER NOT NULL);
CREATE UNIQUE INDEX docs_by_conv ON docs(conv, seq);
CREATE TABLE vocab(term TEXT PRIMARY KEY) WITHOUT ROWID;
)sql",
};

struct ConvRow {
  int64_t num = 0;
  int64_t upto = 0;
};

Result<ConvRow> GetOrAddConversation(SqliteConn& c, const std::string& conversation_id) {
  Stmt s = c.Prepare("SELECT num, upto FROM convs WHERE conversation_id = ?");
  s.Bind(1, conversation_id);
  auto row = s.Step();
  if (!row.ok()) return row.error();
  if (*row) return ConvRow{s.Int(0), s.Int(1)};
  Stmt ins = c.Prepare("INSERT INTO convs(conversation_id) VALUES (?)");
  auto r = ins.Bind(1, conversation_id).Run();
  if (!r.ok()) return r.error();
  return ConvRow{sqlite3_last_insert_rowid(c.raw()), 0};
}

Result<bool> Indexed(SqliteConn& c, int64_t num, int64_t seq) {
  Stmt s = c.Prepare("SELECT 1 FROM docs WHERE conv = ? AND seq = ?");
  s.Bind(1, num).Bind(2, seq);
  return s.Step();
}

// The first free rowid of the conversation's bucket at or after the message's time.
Result<int64_t> NextRowid(SqliteConn& c, const std::string& conversation_id, int64_t created_at) {
  uint32_t bucket = ConversationBucket(conversation_id);
  for (int64_t ms = created_at; ms < created_at + 1000; ++ms) {
    int64_t base = RowidBase(ms, bucket);
    Stmt s = c.Prepare("SELECT id FROM docs WHERE id >= ? AND id < ? ORDER BY id DESC LIMIT 1");
    s.Bind(1, base).Bind(2, base + kSlotsPerBucket);
    auto row = s.Step();
    if (!row.ok()) return row.error();
    if (!*row) return base;
    if (s.Int(0) + 1 < base + kSlotsPerBucket) return s.Int(0) + 1;
    // 64 messages of this bucket in one millisecond: the next ones take the next millisecond.
  }
  return MakeError(ErrorCode::kInternal, "no free search rowid near this time");
}

// What goes into the w and k columns. Never the body of an encrypted message.
void Content(const Message& m, std::string* words, std::string* tokens) {
  if (m.encryption == "none") {
    if (m.content_type != "system") *words = m.body;
    return;
  }
  if (!m.search_tokens) return;
  for (const auto& t : *m.search_tokens) {
    if (!tokens->empty()) *tokens += ' ';
    *tokens += t;
  }
}

// Adds the words of a plain body that are longer than the prefix indexes to vocab; the words
// it wrote go to *added.
Status AddVocabulary(SqliteConn& c, detail::SearchWriterState& state, const std::string& words,
                     std::vector<std::string>* added) {
  if (!state.tokenizer) {
    auto t = FtsTokenizer::Create(c.raw());
    if (!t.ok()) return t.error();
    state.tokenizer = std::move(*t);
  }
  auto tokens = state.tokenizer->TokenizeDocument(words);
  if (!tokens.ok()) return tokens.error();
  for (auto& t : *tokens) {
    if (CharCount(t) <= kMaxIndexedPrefixChars || state.Known(t)) continue;
    Stmt s = c.Prepare("INSERT INTO vocab(term) VALUES (?) ON CONFLICT DO NOTHING");
    auto r = s.Bind(1, t).Run();
    if (!r.ok()) return r.error();
    added->push_back(std::move(t));
  }
  return OkStatus();
}

// What one drain job did: an outcome per Index call, and the vocab words it wrote (known once
// committed).
struct IndexTxResult {
  std::vector<IndexOutcome> outcomes;
  std::vector<std::string> added_words;
};

// The conversations one drain job touches: each row read once, its `upto` advanced in memory
// and written once at the end (WriteUptos), so a message with nothing to index (an e2ee-v1 body
// without search tokens) costs no statement at all.
struct ConvCache {
  struct Entry {
    ConvRow row;
    bool dirty = false;
  };
  std::unordered_map<std::string, Entry> convs;
};

Status IndexTx(SqliteConn& c, detail::SearchWriterState& state,
               const std::vector<Message>& messages, IndexTxResult& result, ConvCache& cache) {
  IndexOutcome& out = result.outcomes.emplace_back();
  for (const auto& m : messages) {
    auto it = cache.convs.find(m.conversation_id);
    if (it == cache.convs.end()) {
      auto row = GetOrAddConversation(c, m.conversation_id);
      if (!row.ok()) return row.error();
      it = cache.convs.emplace(m.conversation_id, ConvCache::Entry{*row, false}).first;
    }
    ConvCache::Entry& conv = it->second;
    std::string words, tokens;
    Content(m, &words, &tokens);
    if (!words.empty() || !tokens.empty()) {
      auto seen = Indexed(c, conv.row.num, m.seq);
      if (!seen.ok()) return seen.error();
      if (!*seen) {
        auto rowid = NextRowid(c, m.conversation_id, m.created_at);
        if (!rowid.ok()) return rowid.error();
        Stmt f = c.Prepare("INSERT INTO msg_fts(rowid, w, k, c) VALUES (?,?,?,?)");
        auto rf = f.Bind(1, *rowid).Bind(2, words).Bind(3, tokens)
                      .Bind(4, ConversationTag(m.conversation_id)).Run();
        if (!rf.ok()) return rf.error();
        Stmt d = c.Prepare("INSERT INTO docs(id, conv, seq) VALUES (?,?,?)");
        auto rd = d.Bind(1, *rowid).Bind(2, conv.row.num).Bind(3, m.seq).Run();
        if (!rd.ok()) return rd.error();
        if (!words.empty()) PARLEY_TRY(AddVocabulary(c, state, words, &result.added_words));
        ++out.indexed;
      }
    }
    if (m.seq == conv.row.upto + 1) {
      conv.row.upto = m.seq;
      conv.dirty = true;
    } else if (m.seq > conv.row.upto + 1 &&
               std::find(out.behind.begin(), out.behind.end(), m.conversation_id) ==
                   out.behind.end()) {
      out.behind.push_back(m.conversation_id);
    }
  }
  return OkStatus();
}

Status WriteUptos(SqliteConn& c, const ConvCache& cache) {
  for (const auto& [id, conv] : cache.convs) {
    if (!conv.dirty) continue;
    Stmt u = c.Prepare("UPDATE convs SET upto = ? WHERE num = ?");
    auto ru = u.Bind(1, conv.row.upto).Bind(2, conv.row.num).Run();
    if (!ru.ok()) return ru.error();
  }
  return OkStatus();
}

}  // namespace

SqliteSearchIndex::SqliteSearchIndex(SearchIndexOptions options)
    : options_(std::move(options)), instance_id_(g_next_instance.fetch_add(1)) {}

SqliteSearchIndex::~SqliteSearchIndex() { Close(); }

Status SqliteSearchIndex::Open() {
  writer_state_ = std::make_unique<detail::SearchWriterState>();
  auto conn = SqliteConn::Open(options_.path, SqliteConn::Mode::kReadWrite, options_.synchronous);
  if (!conn.ok()) return conn.error();
  PARLEY_TRY(Migrate(**conn, "search", kMigrations));
  writer_ = std::make_unique<GroupCommitWriter>(std::move(*conn), options_.max_batch);
  PARLEY_TRY(writer_->Start());
  int nice = options_.writer_nice;
  writer_->Submit<Unit>(  // runs on the writer thread
      [nice](SqliteConn&) -> Result<Unit> {
        SetThisThreadNice(nice);
        return Unit{};
      },
      [](Result<Unit>) {});
  return OkStatus();
}

void SqliteSearchIndex::Close() {
  if (writer_) writer_->Stop();
}

void SqliteSearchIndex::Index(std::vector<Message> messages, Done<IndexOutcome> done) {
  detail::SearchWriterState* state = writer_state_.get();
  {
    std::lock_guard lock(state->pending_mu);
    state->pending.push_back({std::move(messages), std::move(done)});
    if (state->drain_queued) return;  // the queued drain job will take it
    state->drain_queued = true;
  }
  struct Batch {
    std::vector<detail::PendingIndex> calls;
    bool taken = false;  // the job ran and took the pending calls
  };
  auto batch = std::make_shared<Batch>();
  auto take = [state, batch] {
    std::lock_guard lock(state->pending_mu);
    batch->calls.swap(state->pending);
    state->drain_queued = false;
    batch->taken = true;
  };
  writer_->Submit<IndexTxResult>(
      [state, batch, take](SqliteConn& c) -> Result<IndexTxResult> {
        take();
        IndexTxResult result;
        ConvCache cache;
        for (const auto& call : batch->calls)
          PARLEY_TRY(IndexTx(c, *state, call.messages, result, cache));
        PARLEY_TRY(WriteUptos(c, cache));
        return result;
      },
      [state, batch, take](Result<IndexTxResult> r) {
        if (!batch->taken) take();  // the writer is shut down: the job never ran
        if (!r.ok()) {
          for (auto& call : batch->calls) call.done(r.error());
          return;
        }
        state->Committed(r->added_words);
        for (size_t i = 0; i < batch->calls.size(); ++i)
          batch->calls[i].done(std::move(r->outcomes[i]));
      });
}

}  // namespace parley::storage::sqlite
