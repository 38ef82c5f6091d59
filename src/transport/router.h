// Router: maps (method, path pattern) to a coroutine handler. Patterns are literal segments and
// `{name}` captures: "/v1/users/{user_id}". Unknown path → 404; known path, other method → 405.
// Routes are added before serving; Dispatch is then thread-safe (read-only).
#pragma once

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <string>
#include <vector>

#include "transport/http_types.h"

namespace parley::transport {

using Handler = std::function<boost::asio::awaitable<HttpResponse>(HttpRequest&)>;
// Turns a bearer token into a Principal, or kUnauthenticated.
using Authenticator = std::function<Result<Principal>(std::string_view token)>;

enum class Auth { kRequired, kNone };

class Router {
 public:
  void Add(std::string method, std::string pattern, Auth auth, Handler handler);
  void SetAuthenticator(Authenticator a) { authenticator_ = std::move(a); }
  const Authenticator& authenticator() const { return authenticator_; }

  // Finds the route, checks authentication, runs the handler. Never throws to the caller: an
  // exception escaping a handler becomes a logged 500.
  boost::asio::awaitable<HttpResponse> Dispatch(HttpRequest& req) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Auth auth;
    Handler handler;
  };
  std::vector<Route> routes_;
  Authenticator authenticator_;
};

// The bearer token of an Authorization header value, or empty.
std::string_view BearerToken(std::string_view header_value);

}  // namespace parley::transport
