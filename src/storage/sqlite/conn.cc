#include "storage/sqlite/conn.h"

#include <cstring>
#include <string>

#include "storage/sqlite/redo_log.h"

namespace parley::storage::sqlite {

Error SqliteError(int rc, sqlite3* db, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (rc & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
      return MakeError(ErrorCode::kUnavailable, msg);
    case SQLITE_CONSTRAINT:
      return MakeError(ErrorCode::kConflict, msg);
    default:
      return MakeError(ErrorCode::kInternal, msg);
  }
}

Stmt::Stmt(sqlite3_stmt* stmt, sqlite3* db, int prepare_rc, RedoBuffer* redo)
    : s_(stmt), db_(db), prepare_rc_(prepare_rc) {
  if (redo && stmt && !sqlite3_stmt_readonly(stmt)) redo_ = redo;
}

void Stmt::Record(uint8_t type, int index, std::string_view bytes) {
  const auto i = static_cast<uint16_t>(index);
  params_.append(reinterpret_cast<const char*>(&i), 2);
  params_.push_back(static_cast<char>(type));
  if (type == 2 || type == 3) {
    const auto n = static_cast<uint32_t>(bytes.size());
    params_.append(reinterpret_cast<const char*>(&n), 4);
  }
  params_.append(bytes);
  ++n_params_;
}

Stmt::~Stmt() {
  if (s_) {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
}

Stmt& Stmt::Bind(int index, int64_t value) {
  if (s_ && bind_rc_ == SQLITE_OK) bind_rc_ = sqlite3_bind_int64(s_, index, value);
  if (redo_) Record(1, index, std::string_view(reinterpret_cast<const char*>(&value), 8));
  return *this;
}

Stmt& Stmt::Bind(int index, std::string_view text) {
  if (s_ && bind_rc_ == SQLITE_OK)
    bind_rc_ = sqlite3_bind_text(s_, index, text.data(), static_cast<int>(text.size()),
                                 SQLITE_TRANSIENT);
  if (redo_) Record(2, index, text);
  return *this;
}

Stmt& Stmt::Bind(int index, const std::optional<std::string>& text) {
  return text ? Bind(index, std::string_view(*text)) : BindNull(index);
}

Stmt& Stmt::Bind(int index, const std::optional<int64_t>& value) {
  return value ? Bind(index, *value) : BindNull(index);
}

Stmt& Stmt::BindBlob(int index, std::string_view bytes) {
  if (s_ && bind_rc_ == SQLITE_OK)
    bind_rc_ = sqlite3_bind_blob(s_, index, bytes.data(), static_cast<int>(bytes.size()),
                                 SQLITE_TRANSIENT);
  if (redo_) Record(3, index, bytes);
  return *this;
}

Stmt& Stmt::BindNull(int index) {
  if (s_ && bind_rc_ == SQLITE_OK) bind_rc_ = sqlite3_bind_null(s_, index);
  if (redo_) Record(0, index, {});
  return *this;
}

Result<bool> Stmt::Step() {
  if (!s_) return SqliteError(prepare_rc_, db_, "prepare");
  if (bind_rc_ != SQLITE_OK) return SqliteError(bind_rc_, db_, "bind");
  int rc = sqlite3_step(s_);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return SqliteError(rc, db_, "step");
  // A statement's changes are all made by its first step (RETURNING rows included).
  if (redo_ && !recorded_) {
    redo_->Add(sqlite3_sql(s_), params_, n_params_);
    recorded_ = true;
  }
  return rc == SQLITE_ROW;
}

Result<int64_t> Stmt::Run() {
  while (true) {
    auto r = Step();
    if (!r.ok()) return r.error();
    if (!*r) break;
  }
  return static_cast<int64_t>(sqlite3_changes(db_));
}

Result<std::vector<std::string>> Stmt::Texts() {
  std::vector<std::string> out;
  while (true) {
    auto row = Step();
    if (!row.ok()) return row.error();
    if (!*row) return out;
    out.push_back(Text(0));
  }
}

std::string Stmt::Text(int col) const {
  const unsigned char* p = sqlite3_column_text(s_, col);
  int n = sqlite3_column_bytes(s_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

std::optional<std::string> Stmt::OptText(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Text(col);
}

Result<std::unique_ptr<SqliteConn>> SqliteConn::Open(const std::string& path, Mode mode,
                                                     std::string_view synchronous) {
  // Before the library's first use: no memory statistics, which take a global mutex on every
  // allocation (nothing reads them). Ignored (SQLITE_MISUSE) if SQLite was already initialised.
  static const bool configured = [] {
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)configured;
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_NOMUTEX |
              (mode == Mode::kReadOnly ? SQLITE_OPEN_READONLY
                                       : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error e = SqliteError(rc, db, "open " + path);
    sqlite3_close(db);
    return e;
  }
  std::unique_ptr<SqliteConn> conn(new SqliteConn(db));
  sqlite3_busy_timeout(db, 5000);
  if (mode == Mode::kReadWrite) {
    PARLEY_TRY(conn->Exec("PRAGMA journal_mode=WAL"));
    PARLEY_TRY(conn->Exec(synchronous == "normal" ? "PRAGMA synchronous=NORMAL"
                                                   : "PRAGMA synchronous=FULL"));
    // A writer's WalCheckpointer turns this off and checkpoints beside it; a connection
    // without one checkpoints as SQLite does, at the commit that crosses 4000 pages.
    PARLEY_TRY(conn->Exec("PRAGMA wal_autocheckpoint=4000"));
  }
  PARLEY_TRY(conn->Exec("PRAGMA foreign_keys=OFF"));
  PARLEY_TRY(conn->Exec("PRAGMA cache_size=-65536"));
  PARLEY_TRY(conn->Exec("PRAGMA temp_store=MEMORY"));
  return conn;
}

SqliteConn::~SqliteConn() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status SqliteConn::Exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    sqlite3_free(err);
    return SqliteError(rc, db_, sql);
  }
  return OkStatus();
}

Stmt SqliteConn::Prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return Stmt(it->second, db_, SQLITE_OK, redo_);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return Stmt(nullptr, db_, rc);
  cache_.emplace(sql, stmt);
  return Stmt(stmt, db_, SQLITE_OK, redo_);
}

}  // namespace parley::storage::sqlite
