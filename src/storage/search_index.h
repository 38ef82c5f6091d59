// SearchIndex: full-text search over messages, kept beside (and derived from) the MessageStore.
//
// What is indexed: a plain message (encryption "none", not `system`) by the words of its body; an
// end-to-end encrypted message ONLY by its `search_tokens` (keyed hashes the clients computed),
// never by its body; system messages and messages with nothing to index are recorded as seen but
// not indexed. The index is rebuildable from the MessageStore at any time, so its writes may be
// less durable than the store's and may lag behind it.
//
// Threading and errors as in auth_store.h: Search and IndexedUpTo are synchronous reads (call them
// from the blocking pool), Index is an asynchronous write whose completion runs on the index's
// completion thread, in submit order, after the commit; it must not block. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/model.h"

namespace parley::storage {

// At most this many words in one query (kInvalidArgument beyond).
inline constexpr size_t kMaxSearchWords = 16;

// Part of a conversation a caller may search: messages with seq in (after_seq, max_seq].
struct SearchScope {
  std::string conversation_id;
  int64_t after_seq = 0;
  int64_t max_seq = INT64_MAX;
};

struct SearchHit {
  std::string conversation_id;
  int64_t seq = 0;
  int64_t created_at = 0;
};

struct IndexOutcome {
  int64_t indexed = 0;  // messages added (repeats and messages with nothing to index not counted)
  // Conversations whose messages were not all seen in seq order (one was skipped, e.g. dropped
  // under load): call IndexedUpTo and feed the missing messages again.
  std::vector<std::string> behind;
};

class SearchIndex {
 public:
  virtual ~SearchIndex() = default;

  // Adds messages. Idempotent by (conversation_id, seq): a message already indexed is skipped, so
  // replaying a range is safe. Feed each conversation in seq order. kUnavailable if the index
  // cannot write; nothing else is an error.
  virtual void Index(std::vector<Message> messages, Done<IndexOutcome> done) = 0;

  // The highest seq of the conversation up to which every message has been fed to Index (0 if
  // none). Messages above it may be missing from the index.
  virtual Result<int64_t> IndexedUpTo(std::string_view conversation_id) = 0;

  // Messages within `scopes` that match every word of `query`, newest first (by created_at;
  // messages of the same millisecond in an unspecified order), at most `limit`.
  // Words are what the index's tokenizer makes of `query` (case-folded, diacritics removed);
  // a plain message matches a word it contains, the last word also as a prefix (of 2 or more
  // characters); an encrypted message matches a word equal to one of its search tokens.
  // `query` is never interpreted as query syntax. Scopes are ordered most likely first (e.g. by
  // recent activity): the search may stop early once `limit` newer hits are found.
  // kInvalidArgument: no word in `query`, or more than kMaxSearchWords. An empty `scopes` gives an
  // empty result.
  virtual Result<std::vector<SearchHit>> Search(std::string_view query,
                                                const std::vector<SearchScope>& scopes,
                                                int limit) = 0;

  // Is the index answering (for /readyz)?
  virtual Status Ping() = 0;

  // Is one index shared by every node (so one node indexes each message), rather than one per
  // node (each indexes every message)?
  virtual bool Shared() const { return false; }
};

}  // namespace parley::storage
