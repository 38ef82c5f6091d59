// WebService: serves the browser client (the built `web/dist`) at `/`. GET only; the request path
// is decoded and split into segments, and any `..`/`.` segment, backslash or NUL is refused (400),
// so nothing outside the root is ever opened. `/` and unknown paths outside the API get
// `index.html` (single-page-app fallback); API prefixes (`/v1/`, `/healthz`, `/readyz`,
// `/metrics`, `/.well-known/`) keep the API's JSON 404. Every HTML response carries a strict
// Content-Security-Policy (kContentSecurityPolicy). Registered as the router's fallback, so it
// only sees requests that no API route matched.
#pragma once

#include <optional>
#include <string>

#include "transport/http_types.h"
#include "transport/router.h"

namespace parley::services {

inline constexpr char kContentSecurityPolicy[] =
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; "
    "img-src 'self' blob: data:; media-src 'self' blob:; style-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'";

class WebService {
 public:
  // `root` is the directory holding index.html; empty = disabled (API 404s only).
  explicit WebService(std::string root) : root_(std::move(root)) {}
  void Register(transport::Router& router);
  bool enabled() const { return !root_.empty(); }

  // The default web root: `web/dist` in the source tree the running binary was built in (looked
  // for next to the executable and up to three levels above it), if it holds index.html.
  static std::string DefaultRoot();
  // The Content-Type of a file name (by extension; application/octet-stream if unknown).
  static std::string ContentTypeFor(const std::string& name);
  // The relative file path for a decoded request path, or nullopt when it must be refused.
  static std::optional<std::string> SafeRelativePath(const std::string& path);

 private:
  transport::HttpResponse Serve(const transport::HttpRequest& req) const;
  std::string root_;
};

}  // namespace parley::services
