#include "storage/opensearch/os_tokens.h"

#include <sqlite3.h>

#include <algorithm>
#include <memory>

namespace parley::storage::opensearch {

namespace {

struct ThreadState {
  sqlite3* db = nullptr;
  std::unique_ptr<sqlite::FtsTokenizer> tokenizer;
  ~ThreadState() {
    tokenizer.reset();  // before its connection
    if (db) sqlite3_close(db);
  }
};

void Distinct(std::vector<std::string>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace

Result<sqlite::FtsTokenizer*> ThreadTokenizer() {
  thread_local ThreadState state;
  if (!state.tokenizer) {
    if (!state.db && sqlite3_open_v2(":memory:", &state.db,
                                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                                     nullptr) != SQLITE_OK) {
      if (state.db) sqlite3_close(state.db);
      state.db = nullptr;
      return MakeError(ErrorCode::kInternal, "cannot open an in-memory SQLite for the tokenizer");
    }
    auto t = sqlite::FtsTokenizer::Create(state.db);
    if (!t.ok()) return t.error();
    state.tokenizer = std::move(*t);
  }
  return state.tokenizer.get();
}

Result<Content> ContentOf(sqlite::FtsTokenizer& tokenizer, const Message& m) {
  Content c;
  if (m.encryption == "none") {
    if (m.content_type == "system") return c;
    auto words = tokenizer.TokenizeDocument(m.body);
    if (!words.ok()) return words.error();
    c.words = std::move(*words);
    Distinct(c.words);
    return c;
  }
  if (!m.search_tokens) return c;
  for (const auto& t : *m.search_tokens) {
    auto pieces = tokenizer.TokenizeDocument(t);
    if (!pieces.ok()) return pieces.error();
    for (auto& p : *pieces) c.tokens.push_back(std::move(p));
  }
  Distinct(c.tokens);
  return c;
}

}  // namespace parley::storage::opensearch
