// A small blocking HTTP/1.1 client for one OpenSearch endpoint (Boost.Beast), used by
// OpenSearchIndex.
//
// Each connection owns a private io_context and a call runs Beast's asynchronous operations on it
// to completion, so beast::tcp_stream's deadline bounds connecting, writing and reading (the
// deadlines do not apply to Beast's synchronous calls). Idle keep-alive connections are pooled; a
// request that fails on a pooled connection (the server closed it meanwhile) is retried once on a
// new one, so callers send only requests that may be repeated (every request of the index is:
// creates are idempotent by document id). Thread-safe; blocks the caller.
#pragma once

#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"

namespace parley::storage::opensearch {

struct OsHttpResponse {
  int status = 0;
  std::string body;
};

class OsHttp {
 public:
  OsHttp(std::string host, int port, int timeout_ms, size_t max_idle = 8);
  ~OsHttp();
  OsHttp(const OsHttp&) = delete;
  OsHttp& operator=(const OsHttp&) = delete;

  // `target` is a path with its query, already encoded; a non-empty body is sent as
  // `content_type`. Any HTTP status is a response; kUnavailable when the node cannot be reached,
  // times out, breaks the protocol or answers more than 64 MiB.
  Result<OsHttpResponse> Send(const std::string& method, const std::string& target,
                              const std::string& body,
                              const char* content_type = "application/json");

  const std::string& host() const { return host_; }
  int port() const { return port_; }

 private:
  struct Conn;
  Result<OsHttpResponse> SendOnce(Conn& c, const std::string& method, const std::string& target,
                                  const std::string& body, const char* content_type,
                                  bool* reusable);

  // Constant after construction.
  const std::string host_;
  const int port_;
  const int timeout_ms_;
  const size_t max_idle_;

  std::mutex mu_;
  std::vector<std::unique_ptr<Conn>> idle_;  // guarded by mu_
};

// kUnavailable with `what`.
Error OsUnavailable(const std::string& what);
// The node's error for a call it answered with an unexpected status (kUnavailable), the body
// shortened for a log line.
Error OsRefused(const std::string& what, const OsHttpResponse& r);
// The body of a response as a JSON object (kUnavailable if it is not one).
Result<boost::json::value> OsParseBody(const std::string& what, const OsHttpResponse& r);
// Sends a _bulk request (`target`: "/_bulk" and its query) of `expected_items` actions and returns
// each item's HTTP status, in order (0 if an item has none). kUnavailable if the node does not
// answer 200 with one item per action.
Result<std::vector<int>> OsBulk(OsHttp& http, const std::string& target, const std::string& body,
                                size_t expected_items, const std::string& what);
// "YYYY.MM" (with_day false) or "YYYY.MM.DD" of a time in ms since the epoch, UTC: the suffix of
// a time-ranged index.
std::string OsIndexDate(int64_t at_ms, bool with_day);


}  // namespace parley::storage::opensearch
