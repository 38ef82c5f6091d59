#include "services/audit/audit_service.h"

#include <boost/json.hpp>

#include "common/async.h"
#include "common/json_fields.h"
#include "common/log.h"
#include "common/time.h"

namespace parley::services {

using transport::Auth;
using transport::ErrorResponse;
using transport::HttpRequest;
using transport::HttpResponse;

namespace {

// The audit action of a group event: GROUP_CREATED → group.created, GROUP_UPDATED →
// group.updated, MEMBER_JOINED_GROUP → group.member_joined, MEMBER_LEFT_GROUP → group.member_left.
std::string ActionOf(std::string_view type) {
  if (type == events::type::kGroupCreated) return "group.created";
  if (type == events::type::kGroupUpdated) return "group.updated";
  if (type == events::type::kMemberJoinedGroup) return "group.member_joined";
  if (type == events::type::kMemberLeftGroup) return "group.member_left";
  std::string out = "group.";
  for (char c : type) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return out;
}

}  // namespace

Result<bool> IsAdmin(storage::AuthStore& auth, const std::string& user_id) {
  auto u = auth.GetUser(user_id);
  if (!u.ok()) return u.error();
  return u->is_admin;
}

void AuditService::Start() {
  ctx_.bus.Subscribe(events::topic::kAudit, [this](std::string_view, const events::EventPtr& e) {
    if (e->type != kAuditRecorded) return;
    const auto& p = e->payload;
    storage::AuditEntry entry;
    entry.at = e->occurred_at;
    entry.action = StringOr(p, "action");
    entry.actor_user_id = StringOr(p, "actor_user_id");
    entry.actor_device_id = StringOr(p, "actor_device_id");
    entry.target = StringOr(p, "target");
    entry.address = StringOr(p, "address");
    const auto* d = p.if_contains("details");
    entry.details = d ? boost::json::serialize(*d) : "{}";
    LogInfo("audit", {{"action", entry.action},
                      {"actor_user_id", entry.actor_user_id},
                      {"actor_device_id", entry.actor_device_id},
                      {"target", entry.target},
                      {"address", entry.address}});
    store_.RecordAudit(std::move(entry), [](Result<int64_t> r) {
      if (!r.ok()) LogError("audit record failed", {{"error", r.error().message}});
    });
  }, events::Delivery::kOneNode);
  auto from_group_event = [this](std::string_view, const events::EventPtr& e) {
    const auto& p = e->payload;
    std::string actor = StringOr(p, "actor_id");
    if (actor.empty()) actor = StringOr(p, "actor_user_id");
    std::string target = StringOr(p, "user_id");
    PublishAudit(ctx_.bus, {ActionOf(e->type), actor, "", target.empty() ? e->key : e->key + ":" + target,
                            "", p});
  };
  ctx_.bus.Subscribe(events::topic::kGroup, from_group_event, events::Delivery::kOneNode);
  ctx_.bus.Subscribe(events::topic::kGroupMember, from_group_event, events::Delivery::kOneNode);
}

void AuditService::ObserveResponse(const HttpRequest& req, int status) {
  if (status != 403 || !req.principal) return;
  PublishAudit(ctx_.bus, {"authz.denied", req.principal->user_id, req.principal->device_id,
                          req.method + " " + req.path, req.remote_address, {}});
}

void AuditService::Register(transport::Router& r) {
  r.Add("GET", "/v1/admin/audit", Auth::kRequired, [this](HttpRequest& q) { return List(q); });
  r.Add("GET", "/v1/admin/logs", Auth::kRequired, [this](HttpRequest& q) { return Logs(q); });
}

boost::asio::awaitable<HttpResponse> AuditService::List(HttpRequest& req) {
  auto limit = QueryInt(req.Query("limit"), "limit", 1, 200);
  if (!limit.ok()) co_return ErrorResponse(limit.error());
  auto before = QueryInt(req.Query("before"), "before", 1, INT64_MAX);
  if (!before.ok()) co_return ErrorResponse(before.error());
  storage::AuditQuery q;
  q.limit = static_cast<int>(limit->value_or(50));
  q.before_id = before->value_or(0);
  if (const std::string* a = req.Query("action")) q.action = a->substr(0, 64);
  if (const std::string* a = req.Query("actor_id")) q.actor_user_id = a->substr(0, 64);
  auto entries = co_await OnPool(ctx_.blocking, [&]() -> Result<std::vector<storage::AuditEntry>> {
    auto admin = IsAdmin(ctx_.auth_store, req.principal->user_id);
    if (!admin.ok()) return admin.error();
    if (!*admin) return MakeError(ErrorCode::kForbidden, "admins only");
    return store_.ListAudit(q);
  });
  if (!entries.ok()) co_return ErrorResponse(entries.error());
  boost::json::array out;
  int64_t next = 0;
  for (const auto& e : *entries) {
    boost::system::error_code ec;
    auto details = boost::json::parse(e.details, ec);
    out.push_back({{"id", e.id},
                   {"at", e.at},
                   {"actor", e.actor_user_id},
                   {"actor_device_id", e.actor_device_id},
                   {"action", e.action},
                   {"target", e.target},
                   {"address", e.address},
                   {"details", ec ? boost::json::value(boost::json::object{}) : details}});
    next = e.id;
  }
  boost::json::object body{{"entries", std::move(out)}};
  if (static_cast<int>(entries->size()) == q.limit) body["next_before"] = next;
  co_return transport::JsonResponse(200, body);
}

}  // namespace parley::services
