// Local search queries with the server's semantics (docs/api.md "Search"): the text is split and
// folded by FTS5's own unicode61 tokenizer (remove_diacritics 2, as the local index uses), every
// word must match, and the last word also matches as a prefix when it has at least 2 characters.
// Every token is quoted, so FTS5 operators in user input are only plain words or separators.
#pragma once

#include <sqlite3.h>

#include <string>
#include <string_view>

#include "common/result.h"

namespace parley::sdk::store {

inline constexpr size_t kMaxLocalSearchWords = 16;

// The MATCH expression for `query` on connection `db`. kInvalidArgument when the query has no
// word or more than kMaxLocalSearchWords words.
Result<std::string> BuildLocalMatch(sqlite3* db, std::string_view query);

}  // namespace parley::sdk::store
