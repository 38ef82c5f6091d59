#include "storage/sqlite_search/fts_query.h"

#include <iterator>

namespace parley::storage::sqlite {
namespace {

// The FTS5 API of a connection (https://sqlite.org/fts5.html#extending_fts5).
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
  std::vector<std::string>* out;
  size_t max_tokens;
  bool too_many = false;
};

int OnToken(void* ctx, int tflags, const char* token, int n, int, int) {
  auto* c = static_cast<Collect*>(ctx);
  if (tflags & FTS5_TOKEN_COLOCATED) return SQLITE_OK;  // a synonym: the word is already there
  if (n <= 0) return SQLITE_OK;
  if (c->out->size() == c->max_tokens) {
    c->too_many = true;
    return SQLITE_DONE;  // stops the tokenizer
  }
  c->out->emplace_back(token, static_cast<size_t>(n));
  return SQLITE_OK;
}

void AppendQuoted(std::string& out, std::string_view token) {
  out += '"';
  for (char ch : token) {
    if (ch == '"') out += '"';  // FTS5 string literal: a quote is doubled
    out += ch;
  }
  out += '"';
}

}  // namespace

struct FtsTokenizer::Impl {
  fts5_tokenizer api{};
  Fts5Tokenizer* tok = nullptr;
};

Result<std::unique_ptr<FtsTokenizer>> FtsTokenizer::Create(sqlite3* db) {
  fts5_api* api = Fts5Api(db);
  if (!api) return MakeError(ErrorCode::kInternal, "SQLite has no FTS5");
  std::unique_ptr<FtsTokenizer> t(new FtsTokenizer());
  t->impl_ = std::make_unique<Impl>();
  void* user = nullptr;
  if (api->xFindTokenizer(api, kTokenizerName, &user, &t->impl_->api) != SQLITE_OK)
    return MakeError(ErrorCode::kInternal, "FTS5 has no unicode61 tokenizer");
  const char* args[std::size(kTokenizerArgs)];
  for (size_t i = 0; i < std::size(kTokenizerArgs); ++i) args[i] = kTokenizerArgs[i];
  if (t->impl_->api.xCreate(user, args, static_cast<int>(std::size(args)), &t->impl_->tok) !=
      SQLITE_OK)
    return MakeError(ErrorCode::kInternal, "cannot create the FTS5 tokenizer");
  return t;
}

FtsTokenizer::~FtsTokenizer() {
  if (impl_ && impl_->tok) impl_->api.xDelete(impl_->tok);
}

Result<std::vector<std::string>> FtsTokenizer::TokenizeQuery(std::string_view text,
                                                             size_t max_tokens) {
  return Tokenize(text, FTS5_TOKENIZE_QUERY, max_tokens);
}

Result<std::vector<std::string>> FtsTokenizer::TokenizeDocument(std::string_view text) {
  return Tokenize(text, FTS5_TOKENIZE_DOCUMENT, SIZE_MAX);
}

Result<std::vector<std::string>> FtsTokenizer::Tokenize(std::string_view text, int flags,
                                                        size_t max_tokens) {
  std::vector<std::string> out;
  Collect c{&out, max_tokens};
  int rc = impl_->api.xTokenize(impl_->tok, &c, flags, text.data(), static_cast<int>(text.size()),
                                OnToken);
  if (c.too_many) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "q has more than " + std::to_string(max_tokens) + " words");
  }
  if (rc != SQLITE_OK) return MakeError(ErrorCode::kInternal, "tokenizer failed");
  return out;
}

namespace {

// The last word's alternatives when it is a prefix: its completions (or an FTS5 prefix query) in
// w, and, if it could be a search token, itself in k. Empty: nothing can match.
std::string LastWordAsPrefix(const MatchSpec& spec) {
  const std::string& last = spec.words.back();
  std::vector<std::string> alternatives;
  if (!spec.completions) {
    std::string prefix = "w : ";
    AppendQuoted(prefix, last);
    alternatives.push_back(prefix + "*");
  } else if (!spec.completions->empty()) {
    std::string terms = "w : (";
    for (size_t i = 0; i < spec.completions->size(); ++i) {
      if (i > 0) terms += " OR ";
      AppendQuoted(terms, (*spec.completions)[i]);
    }
    alternatives.push_back(terms + ")");
  }
  if (IsLowerHex(last)) {
    std::string token = "k : ";
    AppendQuoted(token, last);
    alternatives.push_back(std::move(token));
  }
  if (alternatives.empty()) return {};
  std::string m = "(";
  for (size_t i = 0; i < alternatives.size(); ++i) {
    if (i > 0) m += " OR ";
    m += alternatives[i];
  }
  return m + ")";
}

}  // namespace

std::string BuildMatch(const MatchSpec& spec) {
  std::vector<std::string> parts;
  size_t exact = spec.prefix_last ? spec.words.size() - 1 : spec.words.size();
  for (size_t i = 0; i < exact; ++i) {
    std::string part = "{w k} : ";
    AppendQuoted(part, spec.words[i]);
    parts.push_back(std::move(part));
  }
  if (spec.prefix_last) {
    std::string last = LastWordAsPrefix(spec);
    if (last.empty()) return {};
    parts.push_back(std::move(last));
  }
  if (!spec.tags.empty()) {
    std::string tags = "c : (";
    for (size_t i = 0; i < spec.tags.size(); ++i) {
      if (i > 0) tags += " OR ";
      AppendQuoted(tags, spec.tags[i]);
    }
    parts.push_back(tags + ")");
  }
  std::string m;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) m += " AND ";
    m += parts[i];
  }
  return m;
}

std::string ConversationTag(std::string_view conversation_id) {
  std::string tag = "c";
  for (char ch : conversation_id) {
    if (ch == '-') continue;
    tag += (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
  }
  return tag;
}

size_t CharCount(std::string_view word) {
  size_t chars = 0;
  for (unsigned char ch : word)
    if ((ch & 0xC0) != 0x80) ++chars;  // count UTF-8 lead bytes
  return chars;
}

bool IsLowerHex(std::string_view s) {
  for (char ch : s)
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return false;
  return !s.empty();
}

}  // namespace parley::storage::sqlite
