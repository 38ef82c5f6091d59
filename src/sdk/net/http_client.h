// HttpClient: synchronous HTTP/1.1 over plain TCP (Boost.Beast), one connection per request.
// Every network step has a deadline: connecting (connect_timeout) and each read or write of the
// header or of a body chunk (io_timeout), so a slow but moving transfer is fine and a stalled one
// fails. Bodies can be streamed from a file (uploads) and, on a 2xx answer, to a file (downloads);
// other answers are read into memory up to max_response_body bytes.
//
// Thread safety: const and stateless between calls; any number of threads may call Do at once.
// Errors: kUnavailable for a network failure, a timeout or a malformed/oversized response;
// kInvalidArgument for an unreadable upload file or an unwritable download path. An HTTP error
// status is not an error here: it is returned in HttpResponse for the caller to map.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "sdk/net/url.h"

namespace parley::sdk::net {

struct HttpOptions {
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds io_timeout{30'000};
  size_t max_response_body = 16 * 1024 * 1024;  // in-memory bodies only
  size_t max_header = 64 * 1024;
};

struct HttpRequestSpec {
  std::string method = "GET";
  std::string target;  // path and query, e.g. "/v1/users?username=bob"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;           // sent when body_file is empty (Content-Length set if non-empty)
  std::string body_file;      // stream this file as the body
  std::string response_file;  // on a 2xx, stream the body here (via "<path>.part" then rename)
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;                            // empty when streamed to response_file
  uint64_t body_bytes = 0;                     // bytes of the body, in memory or in the file

  // The header's value, or "" (name in lowercase).
  std::string Header(const std::string& lowercase_name) const;
};

class HttpClient {
 public:
  HttpClient(BaseUrl base, HttpOptions options) : base_(std::move(base)), opts_(options) {}

  Result<HttpResponse> Do(const HttpRequestSpec& req) const;

  const BaseUrl& base() const { return base_; }
  const HttpOptions& options() const { return opts_; }

 private:
  BaseUrl base_;
  HttpOptions opts_;
};

}  // namespace parley::sdk::net
