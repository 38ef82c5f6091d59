// What OpenSearchIndex indexes and searches for: words and tokens made by the embedded index's
// tokenizer (storage/sqlite_search/fts_query.h), so both adapters agree on every word.
#pragma once

#include <string>
#include <vector>

#include "storage/model.h"
#include "storage/sqlite_search/fts_query.h"

namespace parley::storage::opensearch {

// This thread's tokenizer (over a private in-memory SQLite connection), created on first use.
Result<sqlite::FtsTokenizer*> ThreadTokenizer();

struct Content {
  std::vector<std::string> words;   // distinct words of a plain body
  std::vector<std::string> tokens;  // distinct search tokens of an encrypted message (folded)
};

// A plain message (not `system`) by its body's words; an encrypted one ONLY by its search tokens,
// never its body. Both empty: nothing to index.
Result<Content> ContentOf(sqlite::FtsTokenizer& tokenizer, const Message& m);

}  // namespace parley::storage::opensearch
