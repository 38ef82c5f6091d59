// Search tokens for opt-in server-assisted search of E2EE messages (docs/api.md).
//   token = lowercase hex of the first 16 bytes of HMAC-SHA-256(search key, normalized word)
// Normalization (a subset of the server's FTS5 unicode61 + remove_diacritics 2, see
// docs/protocol.md): a word is a maximal run of ASCII letters/digits and non-ASCII code points
// that are letters in the folding table or not ASCII punctuation; ASCII is lowercased; Latin-1
// and Latin Extended-A letters lose case and diacritics (É→e, ß→ss, œ→oe…); Greek and Cyrillic
// capitals are lowercased; other code points are kept as they are. Invalid UTF-8 bytes separate.
#pragma once

#include <string>
#include <vector>

namespace parley::sdk::crypto {

inline constexpr size_t kMaxSearchTokens = 256;
inline constexpr size_t kMaxSearchWordBytes = 256;  // longer words are cut (on a code point)

// The distinct normalized words of `text`, in order of first appearance.
std::vector<std::string> NormalizeWords(std::string_view text);
std::string SearchToken(std::string_view search_key, std::string_view normalized_word);
// Tokens of the distinct words of `text` (at most kMaxSearchTokens).
std::vector<std::string> SearchTokens(std::string_view search_key, std::string_view text);

}  // namespace parley::sdk::crypto
