// SqliteSearchIndex: the embedded SearchIndex, an FTS5 table in its own database file
// (DATA_DIR/search.db) with its own group-commit writer, so indexing never waits for, nor delays,
// the message store's writer.
//
// Layout (schema in sqlite_search_index.cc):
// - msg_fts: contentless FTS5, detail=column, prefix indexes of 2 and 3 characters. Columns:
//   w (words of a plain body), k (search tokens of an encrypted message), c (a tag naming the
//   conversation, so a search is restricted to the caller's conversations INSIDE the FTS query).
//   Its rowid is time ordered (created_at << 20, then a hash of the conversation and a
//   tie-breaker: search_rowid.h). So "newest first" is FTS5's own ORDER BY rowid DESC, read
//   lazily: a search stops after `limit` hits instead of ranking every match.
// - docs: rowid → (conversation number, seq), to map hits back and check the caller's seq range.
// - convs: conversation number, id, and `upto` (everything up to that seq was fed in order).
// - vocab: every indexed word longer than the prefix indexes, to expand a long last-word prefix
//   into exact terms (FTS5 would merge all their doclists in full; see fts_query.h).
//
// Writes run on their own thread at a lower CPU priority (writer_nice). Index calls that arrive
// while a commit runs are written together by the next one (a single writer job, since FTS5
// flushes a new index segment at every savepoint).
//
// Durability: synchronous=NORMAL in WAL mode. A process crash loses nothing committed; a power
// loss may lose the last commits, which IndexedUpTo then reports as missing.
#pragma once

#include <memory>
#include <string>

#include "storage/search_index.h"
#include "storage/sqlite/writer.h"

namespace parley::storage::sqlite {

namespace detail {
struct SearchWriterState;  // queued Index calls and the writer's vocabulary cache
}  // namespace detail

struct SearchIndexOptions {
  std::string path;  // the database file; created if absent
  std::string synchronous = "normal";
  size_t max_batch = 4096;  // writes per group commit
  // The writer thread's nice value: indexing is background work that must not take CPU from
  // sending and delivering (when it falls behind, SearchIndexer defers to catch-up).
  int writer_nice = 10;
};

class SqliteSearchIndex final : public SearchIndex {
 public:
  explicit SqliteSearchIndex(SearchIndexOptions options);
  ~SqliteSearchIndex() override;

  // Opens the database, applies migrations, starts the writer. Call once.
  Status Open();
  // Drains queued writes and stops the writer.
  void Close();

  void Index(std::vector<Message> messages, Done<IndexOutcome> done) override;
  Result<int64_t> IndexedUpTo(std::string_view conversation_id) override;
  Result<std::vector<SearchHit>> Search(std::string_view query,
                                        const std::vector<SearchScope>& scopes,
                                        int limit) override;
  Status Ping() override;

  uint64_t commit_batches() const { return writer_ ? writer_->batches() : 0; }

 private:
  struct Reader;
  // This thread's read-only connection and tokenizer, opened on first use.
  Result<Reader*> GetReader();

  const SearchIndexOptions options_;
  const uint64_t instance_id_;  // tells this index's thread-local readers from another's
  std::unique_ptr<detail::SearchWriterState> writer_state_;
  std::unique_ptr<GroupCommitWriter> writer_;
};

}  // namespace parley::storage::sqlite
