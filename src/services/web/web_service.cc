#include "services/web/web_service.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace parley::services {

namespace fs = std::filesystem;
using transport::HttpRequest;
using transport::HttpResponse;

namespace {

bool IsApiPath(const std::string& p) {
  return p.rfind("/v1/", 0) == 0 || p == "/v1" || p == "/healthz" || p == "/readyz" ||
         p == "/metrics" || p.rfind("/.well-known/", 0) == 0;
}

std::optional<std::string> ReadFile(const fs::path& p) {
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return std::nullopt;
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string WebService::DefaultRoot() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  fs::path dir = exe.parent_path();
  for (int i = 0; i < 4 && !dir.empty(); ++i) {
    fs::path candidate = dir / "web" / "dist";
    if (fs::is_regular_file(candidate / "index.html", ec)) return candidate.string();
    if (dir == dir.parent_path()) break;
    dir = dir.parent_path();
  }
  return "";
}

std::string WebService::ContentTypeFor(const std::string& name) {
  static const std::vector<std::pair<std::string, std::string>> kTypes = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".wasm", "application/wasm"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".woff", "font/woff"},
      {".txt", "text/plain; charset=utf-8"},
      {".map", "application/json"},
  };
  std::string lower = name;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& [ext, type] : kTypes) {
    if (lower.size() >= ext.size() && lower.compare(lower.size() - ext.size(), ext.size(), ext) == 0) {
      return type;
    }
  }
  return "application/octet-stream";
}

std::optional<std::string> WebService::SafeRelativePath(const std::string& path) {
  if (path.empty() || path[0] != '/') return std::nullopt;
  std::string out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string seg = path.substr(i, j - i);
    i = j + 1;
    if (seg.empty()) continue;
    if (seg == "." || seg == ".." || seg.find('\\') != std::string::npos ||
        seg.find('\0') != std::string::npos) {
      return std::nullopt;
    }
    if (!out.empty()) out += '/';
    out += seg;
  }
  return out;
}

HttpResponse WebService::Serve(const HttpRequest& req) const {
  if (IsApiPath(req.path) || root_.empty()) {
    return transport::ErrorResponse(MakeError(ErrorCode::kNotFound, "no such endpoint"));
  }
  if (req.method != "GET") {
    HttpResponse r = transport::ErrorResponse(MakeError(ErrorCode::kInvalidArgument, "method not allowed"));
    r.status = 405;
    r.headers.emplace_back("Allow", "GET");
    return r;
  }
  auto rel = SafeRelativePath(req.path);
  if (!rel) return transport::ErrorResponse(MakeError(ErrorCode::kInvalidArgument, "bad path"));
  fs::path root(root_);
  std::string name = rel->empty() ? "index.html" : *rel;
  auto body = ReadFile(root / name);
  bool fallback = false;
  if (!body) {
    // A missing asset is a real 404 (a stale page must not get HTML for its script); any other
    // unknown path is a route of the app.
    if (rel->rfind("assets/", 0) == 0) {
      return transport::ErrorResponse(MakeError(ErrorCode::kNotFound, "no such file"));
    }
    body = ReadFile(root / "index.html");
    fallback = true;
    if (!body) return transport::ErrorResponse(MakeError(ErrorCode::kNotFound, "no such file"));
  }
  HttpResponse res;
  res.status = 200;
  res.body = std::move(*body);
  std::string served = fallback ? "index.html" : name;
  res.content_type = ContentTypeFor(served);
  if (res.content_type.rfind("text/html", 0) == 0) {
    res.headers.emplace_back("Content-Security-Policy", kContentSecurityPolicy);
    res.headers.emplace_back("X-Frame-Options", "DENY");
    res.headers.emplace_back("Referrer-Policy", "no-referrer");
    res.headers.emplace_back("Cache-Control", "no-cache");
  } else if (served.rfind("assets/", 0) == 0) {
    // Vite names assets by content hash: they never change.
    res.headers.emplace_back("Cache-Control", "public, max-age=31536000, immutable");
  } else {
    res.headers.emplace_back("Cache-Control", "no-cache");
  }
  return res;
}

void WebService::Register(transport::Router& router) {
  router.SetFallback([this](HttpRequest& req) -> boost::asio::awaitable<HttpResponse> {
    co_return Serve(req);
  });
}

}  // namespace parley::services
