// A small blocking HTTP/1.1 client for one endpoint (Boost.Beast), used by S3BlobStore.
//
// Each connection owns a private io_context: a call runs Beast's asynchronous operations on it to
// completion, so beast::tcp_stream's deadlines bound the connect and every read and write (they
// do not apply to Beast's synchronous calls). Idle keep-alive connections are pooled; a request
// that fails on a pooled connection (the server closed it meanwhile) is retried once on a new
// one, so callers send only requests that may be repeated. Thread-safe; blocks the caller.
// Never logs: requests carry signatures.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace parley::storage::s3 {

struct HttpOptions {
  int connect_timeout_ms = 3000;  // resolve and connect
  int io_timeout_ms = 30000;      // writing the request, and reading the response
  size_t max_idle = 8;            // pooled keep-alive connections
};

struct HttpRequest {
  std::string method;  // GET, HEAD, PUT, POST, DELETE
  std::string target;  // path and query, already encoded
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;
  // The first value of header `name` (lowercase), or "".
  std::string Header(std::string_view name) const;
};

class HttpClient {
 public:
  HttpClient(std::string host, int port, HttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Any HTTP status is a response; kUnavailable when the endpoint cannot be reached, times out
  // or breaks the protocol, or the body exceeds `body_limit`.
  Result<HttpResponse> Send(const HttpRequest& req, size_t body_limit);

 private:
  struct Conn;
  Result<HttpResponse> SendOnce(Conn& c, const HttpRequest& req, size_t body_limit, bool* reusable);

  const std::string host_;
  const int port_;
  const HttpOptions options_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Conn>> idle_;  // guarded by mu_
};

}  // namespace parley::storage::s3
