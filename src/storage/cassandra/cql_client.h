// CqlClient: a small synchronous client of Apache Cassandra's native protocol v4 (cql_protocol.h),
// written for Parley's scale-out message store. It does what that store needs and no more:
//
// - A fixed pool of connections to one contact point, each used by one call at a time (a call
//   takes a free one or waits); connect, STARTUP and PasswordAuthenticator (SASL PLAIN) login
//   with a connect timeout; every request has a deadline.
// - QUERY, PREPARE (cached by statement text; re-prepared when the server answers UNPREPARED)
//   and EXECUTE with bound values, a consistency level, paging (page size and paging state).
// - A connection that fails (I/O error, timeout, malformed frame) is closed and reopened on next
//   use; a failed connect makes that slot wait `reconnect_backoff_ms` (calls fail fast with
//   kUnavailable meanwhile). An idempotent request that met a broken pooled connection is sent
//   once more on a fresh one.
// - Not done (one node is all this deployment has): token-aware routing, several contact points,
//   compression, TLS, server events. The URL names one host.
//
// Errors: kUnavailable (unreachable, timeouts, the server's unavailable/overloaded/timeout
// errors), kInvalidArgument (syntax or invalid query), kConflict (already exists),
// kUnauthenticated (bad credentials), kInternal (malformed responses). Never logs the password
// or bound values. Blocking: call from the blocking pool or a background thread. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "storage/cassandra/cql_protocol.h"

namespace parley::storage::cassandra {

// cassandra://[user:password@]host[:port][/keyspace]   (port 9042 by default)
struct CqlUrl {
  std::string host;
  int port = 9042;
  std::string user;      // empty: no authentication offered
  std::string password;  // secret: never logged
  std::string keyspace;  // empty if none; the client does not USE it (statements name it)
};
Result<CqlUrl> ParseCqlUrl(std::string_view url);

struct CqlOptions {
  int pool_size = 4;
  int connect_timeout_ms = 2000;
  int request_timeout_ms = 10000;  // schema changes on a small machine take seconds
  int reconnect_backoff_ms = 500;
};

struct QueryOptions {
  Consistency consistency = Consistency::kLocalQuorum;
  int32_t page_size = 0;  // > 0: at most this many rows, and a paging state if more follow
  std::optional<std::string> paging_state;
  bool idempotent = true;  // may be sent twice if a connection breaks under it
};

// The rows of one page. Cells are read by column index with the column's type checked.
class CqlRows {
 public:
  CqlRows() = default;
  explicit CqlRows(ResultBody body) : body_(std::move(body)) {}

  size_t size() const { return body_.rows.size(); }
  const std::vector<ColumnSpec>& columns() const { return body_.metadata.columns; }
  // The index of a column by name, or -1.
  int Column(std::string_view name) const;
  // Set when more rows follow: pass it in QueryOptions::paging_state for the next page.
  const std::optional<std::string>& paging_state() const { return body_.metadata.paging_state; }

  bool IsNull(size_t row, size_t col) const;
  // kNotFound for a null cell, kInvalidArgument for a bad index or a type mismatch.
  Result<std::string> Text(size_t row, size_t col) const;
  Result<int64_t> Bigint(size_t row, size_t col) const;
  Result<bool> Bool(size_t row, size_t col) const;
  Result<std::string> Uuid(size_t row, size_t col) const;
  Result<std::vector<std::string>> TextList(size_t row, size_t col) const;  // null: empty list

 private:
  Result<std::string_view> Cell(size_t row, size_t col) const;
  ResultBody body_;
};

struct Prepared {
  std::string cql;
  std::string id;                    // the server's statement id
  std::vector<ColumnSpec> bind;      // one per marker
  std::vector<ColumnSpec> result;    // the columns of its rows (empty for writes)
};

class CqlClient {
 public:
  CqlClient(CqlUrl url, CqlOptions options);
  ~CqlClient();
  CqlClient(const CqlClient&) = delete;
  CqlClient& operator=(const CqlClient&) = delete;

  const CqlUrl& url() const { return url_; }
  // Connects one pooled connection (if needed) and asks the server for its options.
  Status Ping();
  // A statement with positional `?` values, sent as text (schema changes, one-off reads).
  Result<CqlRows> Query(std::string_view cql, const std::vector<CqlValue>& values = {},
                        const QueryOptions& options = {});
  // Prepares once per client (cached by text). kInvalidArgument if the server refuses it.
  Result<std::shared_ptr<const Prepared>> Prepare(std::string_view cql);
  // Runs a prepared statement; `values` must match its markers in number.
  Result<CqlRows> Execute(const Prepared& statement, const std::vector<CqlValue>& values,
                          const QueryOptions& options = {});

  uint64_t reconnects() const { return reconnects_.load(std::memory_order_relaxed); }

 private:
  struct Slot;
  Slot& Acquire(std::unique_lock<std::mutex>& lock);
  Status EnsureConnected(Slot& s);
  // One request/response on a slot; on I/O failure the slot is closed and *io_error set.
  Result<std::pair<Opcode, std::string>> RoundTrip(Slot& s, Opcode op, std::string_view body,
                                                   bool* io_error);
  // Sends a request on a pooled connection, retrying once on a fresh one if allowed.
  Result<std::pair<Opcode, std::string>> Send(Opcode op, const std::string& body, bool idempotent);
  Result<CqlRows> ToRows(Result<std::pair<Opcode, std::string>> reply, int32_t* error_code);

  const CqlUrl url_;
  const CqlOptions options_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::atomic<size_t> next_{0};
  std::atomic<uint64_t> reconnects_{0};
  std::mutex prepared_mu_;
  std::map<std::string, std::shared_ptr<const Prepared>, std::less<>> prepared_;  // guarded
};

}  // namespace parley::storage::cassandra
