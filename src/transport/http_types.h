// The HTTP request and response as handlers see them: plain values, no Beast types, no storage.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "transport/body_stream.h"

namespace parley::transport {

// Who made an authenticated request.
struct Principal {
  std::string user_id;
  std::string device_id;
  std::string jti;
  int64_t exp = 0;  // seconds
};

struct HttpRequest {
  std::string method;  // GET, POST, …
  std::string path;
  std::string body;
  std::map<std::string, std::string, std::less<>> path_params;
  std::map<std::string, std::string, std::less<>> query;
  std::map<std::string, std::string, std::less<>> headers;  // lowercase names
  std::string remote_address;
  std::optional<Principal> principal;  // set on routes that require authentication
  // Streaming routes only (Router::AddStreaming): the body, read as it arrives; `body` is then
  // empty. Owned by the transport, valid while the handler runs.
  BodyReader* body_reader = nullptr;

  const std::string* Query(std::string_view name) const {
    auto it = query.find(name);
    return it == query.end() ? nullptr : &it->second;
  }
  const std::string* Header(std::string_view lowercase_name) const {
    auto it = headers.find(lowercase_name);
    return it == headers.end() ? nullptr : &it->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body is streamed from here instead of `body`: exactly `body_size` bytes
  // (sent as Content-Length). For payloads too large to hold in memory, such as files.
  std::shared_ptr<BodySource> body_source;
  uint64_t body_size = 0;
};

HttpResponse JsonResponse(int status, const boost::json::value& body);
HttpResponse EmptyResponse(int status);
// {"error":{"code","message"}} with the status of its code.
HttpResponse ErrorResponse(const Error& error);
// The message a client may see: an internal error's own text (SQL, file paths, a library's
// words) goes to the log with a short reference, the client gets "internal error (ref R)".
std::string ClientMessage(const Error& error);

}  // namespace parley::transport
