#include "sdk/store/fts_match.h"

#include <vector>

namespace parley::sdk::store {
namespace {

fts5_api* Fts5Api(sqlite3* db) {
  fts5_api* api = nullptr;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &stmt, nullptr) == SQLITE_OK) {
    sqlite3_bind_pointer(stmt, 1, static_cast<void*>(&api), "fts5_api_ptr", nullptr);
    sqlite3_step(stmt);
  }
  sqlite3_finalize(stmt);
  return api;
}

struct Collect {
  std::vector<std::string> tokens;
  bool too_many = false;
};

int OnToken(void* ctx, int tflags, const char* token, int n, int, int) {
  auto* c = static_cast<Collect*>(ctx);
  if ((tflags & FTS5_TOKEN_COLOCATED) || n <= 0) return SQLITE_OK;
  if (c->tokens.size() == kMaxLocalSearchWords) {
    c->too_many = true;
    return SQLITE_DONE;
  }
  c->tokens.emplace_back(token, static_cast<size_t>(n));
  return SQLITE_OK;
}

void AppendQuoted(std::string& out, std::string_view token) {
  out += '"';
  for (char ch : token) {
    if (ch == '"') out += '"';
    out += ch;
  }
  out += '"';
}

size_t CharCount(std::string_view word) {
  size_t n = 0;
  for (unsigned char ch : word)
    if ((ch & 0xC0) != 0x80) ++n;
  return n;
}

}  // namespace

Result<std::string> BuildLocalMatch(sqlite3* db, std::string_view query) {
  fts5_api* api = Fts5Api(db);
  if (!api) return MakeError(ErrorCode::kInternal, "SQLite has no FTS5");
  void* user = nullptr;
  fts5_tokenizer t{};
  if (api->xFindTokenizer(api, "unicode61", &user, &t) != SQLITE_OK)
    return MakeError(ErrorCode::kInternal, "FTS5 has no unicode61 tokenizer");
  const char* args[] = {"remove_diacritics", "2"};
  Fts5Tokenizer* tok = nullptr;
  if (t.xCreate(user, args, 2, &tok) != SQLITE_OK)
    return MakeError(ErrorCode::kInternal, "cannot create the FTS5 tokenizer");
  Collect c;
  int rc = t.xTokenize(tok, &c, FTS5_TOKENIZE_QUERY, query.data(),
                       static_cast<int>(query.size()), OnToken);
  t.xDelete(tok);
  if (c.too_many) return MakeError(ErrorCode::kInvalidArgument, "the query has too many words");
  if (rc != SQLITE_OK) return MakeError(ErrorCode::kInternal, "tokenizer failed");
  if (c.tokens.empty()) return MakeError(ErrorCode::kInvalidArgument, "the query has no word");
  std::string m;
  for (size_t i = 0; i < c.tokens.size(); ++i) {
    if (i > 0) m += " AND ";
    AppendQuoted(m, c.tokens[i]);
    if (i + 1 == c.tokens.size() && CharCount(c.tokens[i]) >= 2) m += '*';
  }
  return m;
}

}  // namespace parley::sdk::store
