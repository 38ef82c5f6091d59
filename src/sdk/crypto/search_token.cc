#include "sdk/crypto/search_token.h"

#include <algorithm>

#include "common/encoding.h"
#include "sdk/crypto/primitives.h"

namespace parley::sdk::crypto {
namespace {

// Base letters of U+0100..U+017F (Latin Extended-A), one entry per code point; "" never occurs.
const char* const kLatinExtA[128] = {
    "a", "a", "a", "a", "a", "a",                              // 0100
    "c", "c", "c", "c", "c", "c", "c", "c",                    // 0106
    "d", "d", "d", "d",                                        // 010E
    "e", "e", "e", "e", "e", "e", "e", "e", "e", "e",          // 0112
    "g", "g", "g", "g", "g", "g", "g", "g",                    // 011C
    "h", "h", "h", "h",                                        // 0124
    "i", "i", "i", "i", "i", "i", "i", "i", "i", "i",          // 0128
    "ij", "ij", "j", "j", "k", "k", "k",                       // 0132
    "l", "l", "l", "l", "l", "l", "l", "l", "l", "l",          // 0139
    "n", "n", "n", "n", "n", "n", "n", "n", "n",               // 0143
    "o", "o", "o", "o", "o", "o", "oe", "oe",                  // 014C
    "r", "r", "r", "r", "r", "r",                              // 0154
    "s", "s", "s", "s", "s", "s", "s", "s",                    // 015A
    "t", "t", "t", "t", "t", "t",                              // 0162
    "u", "u", "u", "u", "u", "u", "u", "u", "u", "u", "u", "u",// 0168
    "w", "w", "y", "y", "y",                                   // 0174
    "z", "z", "z", "z", "z", "z", "s",                         // 0179
};

// Folding of U+00C0..U+00FF; nullptr = a separator (× and ÷).
const char* Latin1(uint32_t cp) {
  static const char* const kTable[64] = {
      "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
      "d", "n", "o", "o", "o", "o", "o", nullptr, "o", "u", "u", "u", "u", "y", "th", "ss",
      "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
      "d", "n", "o", "o", "o", "o", "o", nullptr, "o", "u", "u", "u", "u", "y", "th", "y"};
  return kTable[cp - 0xC0];
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Decodes one code point at text[i]; returns its length, 0 for invalid UTF-8 (skip one byte).
size_t DecodeUtf8(std::string_view t, size_t i, uint32_t& cp) {
  auto b = [&](size_t k) { return static_cast<uint8_t>(t[k]); };
  uint8_t c = b(i);
  size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (len == 0 || i + len > t.size()) return 0;
  cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

// Appends the folded form of cp to word; false when cp separates words.
bool Fold(uint32_t cp, std::string& word) {
  if (cp < 0x80) {
    if (cp >= 'A' && cp <= 'Z') cp += 32;
    bool alnum = (cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9');
    if (alnum) word.push_back(static_cast<char>(cp));
    return alnum;
  }
  if (cp < 0xC0) {  // C1 controls, Latin-1 punctuation and symbols
    if (cp == 0xAA) word += "a";
    else if (cp == 0xBA) word += "o";
    else if (cp == 0xB5) AppendUtf8(word, 0x03BC);
    else return false;
    return true;
  }
  if (cp < 0x100) {
    const char* f = Latin1(cp);
    if (!f) return false;
    word += f;
    return true;
  }
  if (cp < 0x180) {
    word += kLatinExtA[cp - 0x100];
    return true;
  }
  if (cp >= 0x0391 && cp <= 0x03A9 && cp != 0x03A2) cp += 0x20;             // Greek capitals
  else if (cp >= 0x0410 && cp <= 0x042F) cp += 0x20;                        // Cyrillic А..Я
  else if (cp >= 0x0400 && cp <= 0x040F) cp += 0x50;                        // Cyrillic Ѐ..Џ
  else if ((cp >= 0x2000 && cp <= 0x206F) || (cp >= 0x3000 && cp <= 0x303F) ||
           (cp >= 0xFE30 && cp <= 0xFE4F) || cp == 0xFEFF) {
    return false;  // general and CJK punctuation, spaces, BOM
  }
  AppendUtf8(word, cp);
  return true;
}

void CutToBound(std::string& word) {
  if (word.size() <= kMaxSearchWordBytes) return;
  size_t n = kMaxSearchWordBytes;
  while (n > 0 && (static_cast<uint8_t>(word[n]) & 0xC0) == 0x80) --n;
  word.resize(n);
}

}  // namespace

std::vector<std::string> NormalizeWords(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  auto flush = [&] {
    CutToBound(word);
    if (!word.empty() && std::find(words.begin(), words.end(), word) == words.end()) {
      words.push_back(word);
    }
    word.clear();
  };
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    size_t len = DecodeUtf8(text, i, cp);
    if (len == 0) {
      flush();
      ++i;
      continue;
    }
    if (!Fold(cp, word)) flush();
    i += len;
  }
  flush();
  return words;
}

std::string SearchToken(std::string_view search_key, std::string_view normalized_word) {
  return HexEncode(HmacSha256(search_key, normalized_word).substr(0, 16));
}

std::vector<std::string> SearchTokens(std::string_view search_key, std::string_view text) {
  std::vector<std::string> tokens;
  for (const auto& w : NormalizeWords(text)) {
    if (tokens.size() == kMaxSearchTokens) break;
    tokens.push_back(SearchToken(search_key, w));
  }
  return tokens;
}

}  // namespace parley::sdk::crypto
