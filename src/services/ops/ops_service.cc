#include "services/ops/ops_service.h"

#include "common/async.h"

namespace parley::services {

using transport::Auth;
using transport::HttpRequest;
using transport::HttpResponse;

void OpsService::Register(transport::Router& r) {
  r.Add("GET", "/healthz", Auth::kNone, [](HttpRequest&) -> boost::asio::awaitable<HttpResponse> {
    co_return transport::JsonResponse(200, {{"status", "ok"}});
  });
  r.Add("GET", "/readyz", Auth::kNone, [this](HttpRequest&) -> boost::asio::awaitable<HttpResponse> {
    if (draining_.load()) {
      co_return transport::ErrorResponse(MakeError(ErrorCode::kUnavailable, "draining"));
    }
    Status st = co_await OnPool(ctx_.blocking, [this] { return Ready(); });
    if (!st.ok()) co_return transport::ErrorResponse(MakeError(ErrorCode::kUnavailable, st.error().message));
    co_return transport::JsonResponse(200, {{"status", "ready"}});
  });
  r.Add("GET", "/metrics", Auth::kNone, [this](HttpRequest&) -> boost::asio::awaitable<HttpResponse> {
    HttpResponse res;
    res.body = ctx_.metrics.RenderPrometheus();
    res.content_type = "text/plain; version=0.0.4";
    co_return res;
  });
}

Status OpsService::Ready() {
  PARLEY_TRY(ctx_.message_store.Ping());
  for (const auto& [name, check] : checks_) {
    if (Status st = check(); !st.ok()) {
      return MakeError(ErrorCode::kUnavailable, name + ": " + st.error().message);
    }
  }
  return OkStatus();
}

}  // namespace parley::services
