#include "transport/router.h"

#include <exception>

#include "common/log.h"

namespace parley::transport {
namespace {

std::vector<std::string> Split(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace

std::string_view BearerToken(std::string_view v) {
  constexpr std::string_view kPrefix = "Bearer ";
  if (v.size() <= kPrefix.size()) return {};
  for (size_t i = 0; i < kPrefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(v[i])) !=
        std::tolower(static_cast<unsigned char>(kPrefix[i])))
      return {};
  }
  return v.substr(kPrefix.size());
}

void Router::Add(std::string method, std::string pattern, Auth auth, Handler handler) {
  routes_.push_back({std::move(method), Split(pattern), auth, std::move(handler)});
}

boost::asio::awaitable<HttpResponse> Router::Dispatch(HttpRequest& req) const {
  std::vector<std::string> segs = Split(req.path);
  bool path_known = false;
  for (const auto& r : routes_) {
    if (r.segments.size() != segs.size()) continue;
    std::map<std::string, std::string, std::less<>> params;
    bool match = true;
    for (size_t i = 0; i < segs.size() && match; ++i) {
      const std::string& p = r.segments[i];
      if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
        params[p.substr(1, p.size() - 2)] = segs[i];
      } else if (p != segs[i]) {
        match = false;
      }
    }
    if (!match) continue;
    path_known = true;
    if (r.method != req.method) continue;
    req.path_params = std::move(params);
    if (r.auth == Auth::kRequired) {
      const std::string* h = req.Header("authorization");
      std::string_view token = h ? BearerToken(*h) : std::string_view();
      if (token.empty()) {
        co_return ErrorResponse(MakeError(ErrorCode::kUnauthenticated, "missing bearer token"));
      }
      auto p = authenticator_(token);
      if (!p.ok()) co_return ErrorResponse(p.error());
      req.principal = std::move(*p);
    }
    try {
      co_return co_await r.handler(req);
    } catch (const std::exception& e) {
      LogError("handler failed", {{"path", r.method + " " + req.path}, {"error", e.what()}});
      co_return ErrorResponse(MakeError(ErrorCode::kInternal, "internal error"));
    }
  }
  if (path_known) {
    HttpResponse resp = ErrorResponse(MakeError(ErrorCode::kInvalidArgument, "method not allowed"));
    resp.status = 405;
    co_return resp;
  }
  co_return ErrorResponse(MakeError(ErrorCode::kNotFound, "no such endpoint"));
}

}  // namespace parley::transport
