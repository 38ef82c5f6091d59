// Router: maps (method, path pattern) to a coroutine handler. Patterns are literal segments and
// `{name}` captures: "/v1/users/{user_id}". Unknown path → 404; known path, other method → 405.
// Routes are added before serving; Dispatch is then thread-safe (read-only).
//
// A streaming route (AddStreaming) gets its body as it arrives, through HttpRequest::body_reader,
// instead of read whole into HttpRequest::body: for uploads larger than the server's request body
// limit. The route names its own limit; the transport enforces it.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "transport/http_types.h"

namespace parley::transport {

using Handler = std::function<boost::asio::awaitable<HttpResponse>(HttpRequest&)>;
// Turns a bearer token into a Principal, or kUnauthenticated.
using Authenticator = std::function<Result<Principal>(std::string_view token)>;

// kRequired: a valid bearer token or 401. kOptional: no Authorization header is fine (principal
// unset), but one that is present must be valid (else 401). kNone: not looked at.
enum class Auth { kRequired, kOptional, kNone };

class Router {
 public:
  void Add(std::string method, std::string pattern, Auth auth, Handler handler);
  // A route whose body is streamed to the handler; bodies above `max_body_bytes` get 413 (before
  // reading when Content-Length says so, else from BodyReader::Read).
  void AddStreaming(std::string method, std::string pattern, Auth auth, uint64_t max_body_bytes,
                    Handler handler);
  void SetAuthenticator(Authenticator a) { authenticator_ = std::move(a); }
  // Called with every handled request and its status (e.g. to audit authorization denials).
  // Must be quick and thread-safe.
  void SetObserver(std::function<void(const HttpRequest&, int status)> o) { observer_ = std::move(o); }
  const Authenticator& authenticator() const { return authenticator_; }
  // Handles requests whose path no route matches (instead of the 404), e.g. static files.
  void SetFallback(Handler h) { fallback_ = std::move(h); }
  // The body limit of the streaming route for (method, path), or nullopt if the request is not
  // for a streaming route (then the transport reads the body whole, as for every other route).
  std::optional<uint64_t> StreamingLimit(std::string_view method, std::string_view path) const;

  // Finds the route, checks authentication, runs the handler. Never throws to the caller: an
  // exception escaping a handler becomes a logged 500.
  boost::asio::awaitable<HttpResponse> Dispatch(HttpRequest& req) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Auth auth;
    Handler handler;
    bool streaming = false;
    uint64_t max_body_bytes = 0;  // streaming routes only
  };
  // Whether `r` matches the path segments; fills `params` with the captures if so.
  static bool Matches(const Route& r, const std::vector<std::string>& segs,
                      std::map<std::string, std::string, std::less<>>* params);
  std::vector<Route> routes_;
  Authenticator authenticator_;
  std::function<void(const HttpRequest&, int)> observer_;
  Handler fallback_;
};

// The bearer token of an Authorization header value, or empty.
std::string_view BearerToken(std::string_view header_value);

}  // namespace parley::transport
