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

void Router::AddStreaming(std::string method, std::string pattern, Auth auth,
                          uint64_t max_body_bytes, Handler handler) {
  routes_.push_back(
      {std::move(method), Split(pattern), auth, std::move(handler), true, max_body_bytes});
}

bool Router::Matches(const Route& r, const std::vector<std::string>& segs,
                     std::map<std::string, std::string, std::less<>>* params) {
  if (r.segments.size() != segs.size()) return false;
  for (size_t i = 0; i < segs.size(); ++i) {
    const std::string& p = r.segments[i];
    if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
      if (params) (*params)[p.substr(1, p.size() - 2)] = segs[i];
    } else if (p != segs[i]) {
      return false;
    }
  }
  return true;
}

std::optional<uint64_t> Router::StreamingLimit(std::string_view method,
                                               std::string_view path) const {
  std::vector<std::string> segs = Split(path);
  for (const auto& r : routes_) {
    if (r.method != method || !Matches(r, segs, nullptr)) continue;
    if (r.streaming) return r.max_body_bytes;
    return std::nullopt;
  }
  return std::nullopt;
}

boost::asio::awaitable<HttpResponse> Router::Dispatch(HttpRequest& req) const {
  std::vector<std::string> segs = Split(req.path);
  bool path_known = false;
  for (const auto& r : routes_) {
    std::map<std::string, std::string, std::less<>> params;
    if (!Matches(r, segs, &params)) continue;
    path_known = true;
    if (r.method != req.method) continue;
    req.path_params = std::move(params);
    const std::string* h = req.Header("authorization");
    if (r.auth == Auth::kRequired || (r.auth == Auth::kOptional && h)) {
      std::string_view token = h ? BearerToken(*h) : std::string_view();
      if (token.empty()) {
        co_return ErrorResponse(MakeError(ErrorCode::kUnauthenticated, "missing bearer token"));
      }
      auto p = authenticator_(token);
      if (!p.ok()) co_return ErrorResponse(p.error());
      req.principal = std::move(*p);
    }
    try {
      HttpResponse res = co_await r.handler(req);
      if (observer_) observer_(req, res.status);
      co_return res;
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
  if (fallback_) {
    try {
      co_return co_await fallback_(req);
    } catch (const std::exception& e) {
      LogError("fallback handler failed", {{"path", req.method + " " + req.path}, {"error", e.what()}});
      co_return ErrorResponse(MakeError(ErrorCode::kInternal, "internal error"));
    }
  }
  co_return ErrorResponse(MakeError(ErrorCode::kNotFound, "no such endpoint"));
}

}  // namespace parley::transport
