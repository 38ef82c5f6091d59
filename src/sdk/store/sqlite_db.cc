#include "sdk/store/sqlite_db.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace parley::sdk::store {
namespace {
Error SqlError(sqlite3* db, std::string_view what) {
  return MakeError(ErrorCode::kInternal,
                   std::string(what) + ": " + (db ? sqlite3_errmsg(db) : "no database"));
}
}  // namespace

Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (this != &o) {
    sqlite3_finalize(s_);
    db_ = o.db_;
    s_ = o.s_;
    o.s_ = nullptr;
  }
  return *this;
}

Stmt::~Stmt() { sqlite3_finalize(s_); }

Stmt& Stmt::Bind(int i, std::string_view text) {
  sqlite3_bind_text64(s_, i, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}
Stmt& Stmt::Bind(int i, int64_t v) {
  sqlite3_bind_int64(s_, i, v);
  return *this;
}
Stmt& Stmt::BindOpt(int i, const std::optional<std::string>& text) {
  return text ? Bind(i, std::string_view(*text)) : BindNull(i);
}
Stmt& Stmt::BindBlob(int i, std::string_view bytes) {
  sqlite3_bind_blob64(s_, i, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::BindNull(int i) {
  sqlite3_bind_null(s_, i);
  return *this;
}

Result<bool> Stmt::Step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqlError(db_, "step");
}

void Stmt::Reset() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

Result<Unit> Stmt::Run() {
  while (true) {
    auto r = Step();
    if (!r.ok()) return r.error();
    if (!*r) return Unit{};
  }
}

std::string Stmt::Text(int col) const {
  const auto* p = sqlite3_column_text(s_, col);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         static_cast<size_t>(sqlite3_column_bytes(s_, col)))
           : std::string();
}
std::optional<std::string> Stmt::OptText(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Text(col);
}
std::string Stmt::Blob(int col) const {
  const void* p = sqlite3_column_blob(s_, col);
  return p ? std::string(static_cast<const char*>(p),
                         static_cast<size_t>(sqlite3_column_bytes(s_, col)))
           : std::string();
}
int64_t Stmt::Int(int col) const { return sqlite3_column_int64(s_, col); }
bool Stmt::IsNull(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }

Db::~Db() { sqlite3_close_v2(db_); }

Result<Unit> Db::Open(const std::string& path) {
  // Create the file 0600 first so it is never readable by others, even for an instant; the WAL
  // and shm files SQLite creates take the main file's permissions.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return MakeError(ErrorCode::kUnavailable, "cannot open " + path);
  ::fchmod(fd, 0600);
  ::close(fd);
  int rc = sqlite3_open_v2(path.c_str(), &db_,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) return SqlError(db_, "open " + path);
  sqlite3_busy_timeout(db_, 5000);
  PARLEY_TRY(Exec("PRAGMA journal_mode=WAL"));
  PARLEY_TRY(Exec("PRAGMA synchronous=FULL"));
  PARLEY_TRY(Exec("PRAGMA foreign_keys=OFF"));
  PARLEY_TRY(Exec("PRAGMA secure_delete=ON"));
  return Unit{};
}

Result<Unit> Db::Exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "exec failed";
    sqlite3_free(err);
    return MakeError(ErrorCode::kInternal, msg);
  }
  return Unit{};
}

Result<Stmt> Db::Prepare(std::string_view sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &s, nullptr) != SQLITE_OK)
    return SqlError(db_, "prepare");
  return Stmt(db_, s);
}

Txn::Txn(Db& db) : db_(db), status_(db.Exec("BEGIN IMMEDIATE")) {}

Txn::~Txn() {
  if (status_.ok() && !done_) (void)db_.Exec("ROLLBACK");
}

Result<Unit> Txn::Commit() {
  if (!status_.ok()) return status_;
  auto r = db_.Exec("COMMIT");
  if (r.ok()) done_ = true;
  return r;
}

}  // namespace parley::sdk::store
