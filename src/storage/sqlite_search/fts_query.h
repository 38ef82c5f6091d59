// Turning a user's search text into an FTS5 MATCH expression that can never be anything but
// "all of these words".
//
// The text is split and folded by the same FTS5 tokenizer the index uses (so "Ünïcode" in a query
// is "unicode", as it was when indexed); each resulting token is alphanumeric and is still quoted,
// so FTS5 operators in user input (OR, NOT, NEAR, *, ", -, :, ^, parentheses) are only ever
// separators or plain words.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace parley::storage::sqlite {

// The tokenizer of the search table: unicode61, case-folded, diacritics removed (mode 2).
inline constexpr const char* kTokenizerName = "unicode61";
inline constexpr const char* kTokenizerArgs[] = {"remove_diacritics", "2"};

// An FTS5 tokenizer instance of one connection. Not thread-safe; lives no longer than `db`.
class FtsTokenizer {
 public:
  static Result<std::unique_ptr<FtsTokenizer>> Create(sqlite3* db);
  ~FtsTokenizer();

  // The tokens of `text` as a query would see them, in order, at most `max_tokens`
  // (kInvalidArgument if there are more).
  Result<std::vector<std::string>> TokenizeQuery(std::string_view text, size_t max_tokens);
  // The tokens of a document (as indexed), in order.
  Result<std::vector<std::string>> TokenizeDocument(std::string_view text);

 private:
  FtsTokenizer() = default;
  Result<std::vector<std::string>> Tokenize(std::string_view text, int flags, size_t max_tokens);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Prefixes up to this many characters have their own FTS5 prefix index (the table's prefix
// option), which FTS5 reads lazily, newest first. A longer prefix FTS5 would answer by merging the
// whole doclist of every completion, so it is expanded to its completions instead (see vocab).
inline constexpr size_t kMaxIndexedPrefixChars = 3;
// A last word shorter than this matches only whole words: a one-letter prefix would match most
// of the index, and its prefix index would cost every write more than it is worth.
inline constexpr size_t kMinPrefixChars = 2;
// Expand a prefix into at most this many terms; more, and FTS5's own prefix query is used.
inline constexpr size_t kMaxCompletions = 64;

struct MatchSpec {
  std::vector<std::string> words;  // non-empty; every one must match
  bool prefix_last = true;         // the last word also matches as a prefix (in w)
  // The last word's completions among indexed words (including itself if indexed), if they were
  // looked up; else the last word is an FTS5 prefix query.
  std::optional<std::vector<std::string>> completions;
  std::vector<std::string> tags;  // conversation tags, one must match; empty = any conversation
};

// The MATCH expression over the table's columns w (words of plain messages), k (search tokens of
// encrypted messages) and c (conversation tags): every word in w or k exactly; the last word, if
// prefix_last, as a prefix in w (a search token is a keyed hash: only equality means anything)
// or exactly in k.
// Empty if nothing can match (no completion and the last word cannot be a token).
std::string BuildMatch(const MatchSpec& spec);

// The tag token of a conversation in column c: "c" and the id's hex digits (one token).
std::string ConversationTag(std::string_view conversation_id);

// Characters (code points) of a UTF-8 word.
size_t CharCount(std::string_view word);
bool IsLowerHex(std::string_view s);

}  // namespace parley::storage::sqlite
