// A thin RAII layer over one SQLite connection for the client's local store: open with the
// pragmas the store needs, run statements, bind and read columns. Not thread-safe: the owner
// (LocalStore) serializes every use with its own mutex.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace parley::sdk::store {

class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  Stmt(Stmt&& o) noexcept : db_(o.db_), s_(o.s_) { o.s_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  // Bind by 1-based index. Strings are copied (SQLITE_TRANSIENT).
  Stmt& Bind(int i, std::string_view text);
  Stmt& Bind(int i, int64_t v);
  Stmt& BindOpt(int i, const std::optional<std::string>& text);  // nullopt binds NULL
  Stmt& BindBlob(int i, std::string_view bytes);
  Stmt& BindNull(int i);

  // One step: true when a row is ready, false when done; kInternal on error.
  Result<bool> Step();
  // Rewinds for another run with fresh bindings.
  void Reset();
  // Steps to the end (for statements that return no rows).
  Result<Unit> Run();

  std::string Text(int col) const;  // "" for NULL
  std::optional<std::string> OptText(int col) const;
  std::string Blob(int col) const;
  int64_t Int(int col) const;
  bool IsNull(int col) const;

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* s_ = nullptr;
};

class Db {
 public:
  Db() = default;
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Opens (creating) `path` with mode 0600, WAL, synchronous=FULL, foreign keys off.
  Result<Unit> Open(const std::string& path);
  Result<Unit> Exec(const std::string& sql);
  Result<Stmt> Prepare(std::string_view sql);
  int64_t Changes() const { return sqlite3_changes64(db_); }
  sqlite3* raw() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

// BEGIN IMMEDIATE on construction; ROLLBACK at destruction unless Commit() succeeded.
class Txn {
 public:
  explicit Txn(Db& db);
  ~Txn();
  Result<Unit> status() const { return status_; }
  Result<Unit> Commit();

 private:
  Db& db_;
  Result<Unit> status_;
  bool done_ = false;
};

}  // namespace parley::sdk::store
