// PgConn: one libpq connection with statements prepared once per SQL text; PgResult owns a result.
//
// Parameters travel in text format ($1..$n); std::nullopt is SQL NULL. Errors map the SQLSTATE:
// 23505 (unique_violation) -> kConflict; 40001 (serialization_failure) and 40P01 (deadlock) ->
// kUnavailable and retryable (see saw_retryable()); a lost connection -> kUnavailable; anything
// else -> kInternal. Error messages name the failing statement's first words and the server's
// message, never parameter values (they may be secrets or token hashes).
// Not thread-safe: one connection is used by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"

struct pg_conn;
struct pg_result;

namespace parley::storage::postgres {

using PgParam = std::optional<std::string>;  // std::nullopt = SQL NULL; values as text
inline PgParam P(std::string_view v) { return std::string(v); }
inline PgParam P(const std::string& v) { return v; }
inline PgParam P(const char* v) { return std::string(v); }
inline PgParam P(int64_t v) { return std::to_string(v); }
inline PgParam P(int v) { return std::to_string(v); }
inline PgParam P(bool v) { return std::string(v ? "t" : "f"); }
inline PgParam P(const std::optional<std::string>& v) { return v; }
inline PgParam P(const std::optional<int64_t>& v) {
  return v ? PgParam(std::to_string(*v)) : std::nullopt;
}
// A text[] literal for `$n::text[]` parameters.
PgParam TextArray(const std::vector<std::string>& items);
// bytea parameters: pass the bytes hex-encoded ("\\x..."), decode with PgResult::bytes.
PgParam Bytea(std::string_view bytes);

class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(pg_result* r);
  PgResult(PgResult&& o) noexcept;
  PgResult& operator=(PgResult&& o) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
  ~PgResult();

  int rows() const;
  bool null(int row, int col) const;
  std::string str(int row, int col) const;  // "" if NULL
  std::optional<std::string> opt(int row, int col) const;  // nullopt if NULL
  int64_t i64(int row, int col) const;      // 0 if NULL
  bool boolean(int row, int col) const;     // 't'
  std::string bytes(int row, int col) const;  // a bytea column, decoded
  int64_t affected() const;                 // PQcmdTuples

 private:
  pg_result* r_ = nullptr;
};

class PgConn {
 public:
  // `url`: a libpq connection URI, e.g. postgres://user@host:port/db.
  static Result<std::unique_ptr<PgConn>> Connect(const std::string& url);
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // One statement with $1..$n parameters, prepared once per SQL text and cached. If another
  // node changed a table under a cached statement ("cached plan must not change result type")
  // the statement is re-prepared; outside a transaction it is also run again at once.
  Result<PgResult> Exec(std::string_view sql, const std::vector<PgParam>& params = {});
  // A parameterless statement or script (BEGIN/COMMIT/SAVEPOINT/DDL), not prepared.
  Status Run(std::string_view sql_without_params);
  // The SQLSTATE of the last failed statement ("" after a success).
  const std::string& last_sqlstate() const { return last_sqlstate_; }
  // True once any statement since the last ClearRetryable() failed with 40001 or 40P01: the
  // writer then re-runs the whole batch even if a job swallowed the error.
  bool saw_retryable() const { return saw_retryable_; }
  void ClearRetryable() { saw_retryable_ = false; }
  // False once the connection is lost (the owner reconnects).
  bool healthy() const;
  // True inside a transaction that a failed statement has aborted (only ROLLBACK, or ROLLBACK TO
  // a savepoint, is accepted until then).
  bool in_failed_transaction() const;

  // Pipeline mode: statements sent one after the other without waiting for each answer, answered
  // together, in order, after FinishPipeline's sync (one round trip for all of them). Between
  // BeginPipeline and FinishPipeline only SendPipelined may be called. A statement that fails
  // aborts the ones after it up to the sync (their answers: kUnavailable "pipeline aborted");
  // inside a transaction the transaction is then failed, as after any failed statement.
  Status BeginPipeline();
  // Queues one statement (prepared once per SQL text, like Exec); `on_answer` gets its result
  // during FinishPipeline.
  void SendPipelined(std::string_view sql, const std::vector<PgParam>& params,
                     std::function<void(Result<PgResult>)> on_answer);
  // Sends the sync, hands every queued statement its answer, and leaves pipeline mode. An error:
  // the link broke (the answers not read get it too).
  Status FinishPipeline();
  // Round trips to the server so far (a statement, a script, a whole pipeline: one each).
  uint64_t round_trips() const { return round_trips_; }

 private:
  explicit PgConn(pg_conn* c) : c_(c) {}
  Error MapError(pg_result* r, std::string_view sql);
  Result<PgResult> ExecOnce(std::string_view sql, const std::vector<PgParam>& params,
                            bool may_replan);

  struct Pending {
    std::string sql;        // for error messages
    std::string prepare;    // statement name, when a PQsendPrepare precedes the query
    std::optional<Error> not_sent;  // the send itself failed: the answer, with no result to read
    std::function<void(Result<PgResult>)> on_answer;
  };
  Result<PgResult> ReadPipelined(const Pending& p);

  pg_conn* c_;
  std::vector<Pending> pipeline_;  // sent, answers not read yet
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name
  uint64_t statements_made_ = 0;                           // names statements p1, p2, ...
  uint64_t round_trips_ = 0;
  std::string last_sqlstate_;
  bool saw_retryable_ = false;
};

// True for the errors PgConn gives on serialization failures and deadlocks.
bool IsRetryable(const Error& e);

}  // namespace parley::storage::postgres
