// A thin SQLite connection with cached prepared statements. One connection is used by one thread
// at a time (not thread-safe). Stmt resets itself when it goes out of scope.
// While a RedoBuffer is set (SetRedo), every statement that writes adds its SQL and bound values
// to it at its first successful step (storage/sqlite/redo_log.h).
#pragma once

#include <sqlite3.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"

namespace parley::storage::sqlite {

// Maps a SQLite result code to an ErrorCode: full disk and I/O errors are kUnavailable,
// constraint violations kConflict, the rest kInternal.
Error SqliteError(int rc, sqlite3* db, std::string_view what);

class RedoBuffer;

class Stmt {
 public:
  // `redo`: where the statement records itself if it writes (nullptr: not recording).
  Stmt(sqlite3_stmt* stmt, sqlite3* db, int prepare_rc, RedoBuffer* redo = nullptr);
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  Stmt& Bind(int index, int64_t value);
  Stmt& Bind(int index, std::string_view text);
  Stmt& Bind(int index, const char* text) { return Bind(index, std::string_view(text)); }
  Stmt& Bind(int index, const std::string& text) { return Bind(index, std::string_view(text)); }
  Stmt& Bind(int index, const std::optional<std::string>& text);
  Stmt& Bind(int index, const std::optional<int64_t>& value);
  Stmt& BindBlob(int index, std::string_view bytes);
  Stmt& BindNull(int index);

  // true: a row is ready; false: done.
  Result<bool> Step();
  // Steps to completion; returns the number of rows changed.
  Result<int64_t> Run();
  // Steps to completion; returns the first column of every row as text.
  Result<std::vector<std::string>> Texts();

  int64_t Int(int col) const { return sqlite3_column_int64(s_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::string Text(int col) const;
  std::optional<std::string> OptText(int col) const;

 private:
  void Record(uint8_t type, int index, std::string_view bytes);

  sqlite3_stmt* s_;
  sqlite3* db_;
  int prepare_rc_;
  int bind_rc_ = SQLITE_OK;
  RedoBuffer* redo_ = nullptr;  // set only for a statement that writes
  bool recorded_ = false;
  uint16_t n_params_ = 0;
  std::string params_;  // encoded as redo_log.h says
};

class SqliteConn {
 public:
  enum class Mode { kReadWrite, kReadOnly };
  // Opens (creating in read-write mode) the database at `path` in WAL mode.
  // `synchronous` is "full" or "normal" (read-write only).
  static Result<std::unique_ptr<SqliteConn>> Open(const std::string& path, Mode mode,
                                                  std::string_view synchronous);
  ~SqliteConn();

  Status Exec(const char* sql);
  // The statement for `sql`, prepared once per connection. `sql` must be a string literal
  // (statements are cached by its address).
  Stmt Prepare(const char* sql);
  sqlite3* raw() { return db_; }
  // Statements prepared from now on record their writes in `redo` (nullptr: stop recording).
  void SetRedo(RedoBuffer* redo) { redo_ = redo; }
  RedoBuffer* redo() const { return redo_; }

 private:
  explicit SqliteConn(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  RedoBuffer* redo_ = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

}  // namespace parley::storage::sqlite
