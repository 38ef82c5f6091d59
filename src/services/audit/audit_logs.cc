// AuditService::Logs: GET /v1/admin/logs, an admin's search over every node's shipped logs
// (storage::LogSearch). Query: q (words, all must occur; ≤ 256 bytes), level (the minimum:
// debug|info|warn|error), node, since / until (ms since the epoch; since inclusive, until
// exclusive), limit (1..200, default 50). Answer: {entries:[{at, level, node, msg, line}],
// next_until?} newest first; `line` is the logged JSON object; next_until (when the page is full)
// is the `until` of the next, older page.
#include <boost/json.hpp>

#include "common/async.h"
#include "common/json_fields.h"
#include "common/log.h"
#include "services/audit/audit_service.h"

namespace parley::services {

using transport::ErrorResponse;
using transport::HttpRequest;
using transport::HttpResponse;

boost::asio::awaitable<HttpResponse> AuditService::Logs(HttpRequest& req) {
  storage::LogQuery q;
  auto limit = QueryInt(req.Query("limit"), "limit", 1, 200);
  if (!limit.ok()) co_return ErrorResponse(limit.error());
  auto since = QueryInt(req.Query("since"), "since", 0, INT64_MAX);
  if (!since.ok()) co_return ErrorResponse(since.error());
  auto until = QueryInt(req.Query("until"), "until", 1, INT64_MAX);
  if (!until.ok()) co_return ErrorResponse(until.error());
  q.limit = static_cast<int>(limit->value_or(50));
  q.since_ms = since->value_or(0);
  q.until_ms = until->value_or(0);
  if (const std::string* text = req.Query("q")) {
    if (text->size() > 256)
      co_return ErrorResponse(MakeError(ErrorCode::kInvalidArgument, "q is longer than 256 bytes"));
    q.text = *text;
  }
  if (const std::string* level = req.Query("level")) {
    LogLevel l;
    if (!ParseLogLevel(*level, &l))
      co_return ErrorResponse(
          MakeError(ErrorCode::kInvalidArgument, "level must be debug, info, warn or error"));
    q.min_level = static_cast<int>(l);
  }
  if (const std::string* node = req.Query("node")) {
    if (node->size() > 64)
      co_return ErrorResponse(MakeError(ErrorCode::kInvalidArgument, "node is longer than 64 bytes"));
    q.node = *node;
  }
  auto hits = co_await OnPool(ctx_.blocking, [&]() -> Result<std::vector<storage::LogHit>> {
    auto admin = IsAdmin(ctx_.auth_store, req.principal->user_id);
    if (!admin.ok()) return admin.error();
    if (!*admin) return MakeError(ErrorCode::kForbidden, "admins only");
    if (!logs_)
      return MakeError(ErrorCode::kNotFound,
                       "log shipping is off on this server (start parleyd with --ship-logs "
                       "opensearch://HOST:PORT)");
    return logs_->SearchLogs(q);
  });
  if (!hits.ok()) co_return ErrorResponse(hits.error());
  boost::json::array out;
  for (const auto& h : *hits) {
    boost::system::error_code ec;
    auto line = boost::json::parse(h.line, ec);
    out.push_back({{"at", h.at},
                   {"level", h.level},
                   {"node", h.node},
                   {"msg", h.msg},
                   {"line", ec ? boost::json::value(h.line) : line}});
  }
  boost::json::object body{{"entries", std::move(out)}};
  if (static_cast<int>(hits->size()) == q.limit && !hits->empty()) body["next_until"] = hits->back().at;
  co_return transport::JsonResponse(200, body);
}

}  // namespace parley::services
