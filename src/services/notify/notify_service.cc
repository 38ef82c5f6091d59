#include "services/notify/notify_service.h"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <boost/url.hpp>

#include "common/async.h"
#include "common/ids.h"
#include "common/json_fields.h"
#include "common/log.h"
#include "common/time.h"
#include "services/audit/audit_event.h"
#include "services/audit/audit_service.h"

namespace parley::services {

using transport::Auth;
using transport::ErrorResponse;
using transport::HttpRequest;
using transport::HttpResponse;
using transport::JsonResponse;

namespace {

constexpr size_t kMaxEndpointBytes = 2048;
constexpr size_t kMaxTitleBytes = 200;
constexpr size_t kMaxBodyBytes = 4000;
constexpr size_t kMaxDataBytes = 4096;

boost::json::object NotificationJson(const storage::Notification& n) {
  boost::system::error_code ec;
  auto data = boost::json::parse(n.data, ec);
  return {{"notification_id", n.id},
          {"title", n.title},
          {"body", n.body},
          {"data", ec ? boost::json::value(boost::json::object{}) : data},
          {"created_at", n.created_at}};
}

}  // namespace

NotifyService::NotifyService(
    Context& ctx, storage::NotifyStore& store, PushOptions push,
    std::function<bool(const std::string&, const std::string&)> device_online)
    : ctx_(ctx),
      store_(store),
      sender_(push, ctx.metrics),
      device_online_(std::move(device_online)) {}

void NotifyService::ForgetDevice(const std::string& device_id) {
  std::lock_guard lock(mu_);
  for (auto it = endpoints_.begin(); it != endpoints_.end(); ++it) {
    if (it->second.erase(device_id)) {
      if (it->second.empty()) endpoints_.erase(it);
      return;
    }
  }
}

Status NotifyService::Start() {
  auto all = store_.ListPushEndpoints();
  if (!all.ok()) return all.error();
  {
    std::lock_guard lock(mu_);
    for (auto& p : *all) endpoints_[p.user_id][p.device_id] = p.endpoint;
  }
  sender_.OnGone([this](const std::string& device_id) {
    std::lock_guard lock(mu_);
    for (auto& [user, devices] : endpoints_) {
      if (devices.erase(device_id)) {
        store_.SetPushEndpoint({device_id, user, ""}, [](Result<Unit>) {});
        break;
      }
    }
  });
  ctx_.bus.Subscribe(events::topic::kMessage, [this](std::string_view, const events::EventPtr& e) {
    if (e->type == events::type::kMessageSent) OnMessage(e);
  }, events::Delivery::kOneNode);
  ctx_.bus.Subscribe(events::topic::kNotification,
                     [this](std::string_view, const events::EventPtr& e) { OnNotificationEvent(e); }, events::Delivery::kOneNode);
  sender_.Start();
  return OkStatus();
}

void NotifyService::Stop() { sender_.Stop(); }

void NotifyService::Register(transport::Router& r) {
  r.Add("POST", "/v1/register-push", Auth::kRequired, [this](HttpRequest& q) { return RegisterPush(q); });
  r.Add("POST", "/v1/send-notification", Auth::kRequired,
        [this](HttpRequest& q) { return SendNotification(q); });
  r.Add("GET", "/v1/notifications", Auth::kRequired, [this](HttpRequest& q) { return List(q); });
}

void NotifyService::OnMessage(const events::EventPtr& e) {
  const auto& p = e->payload;
  std::string sender = StringOr(p, "sender_id");
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>> targets;
  {
    std::lock_guard lock(mu_);
    if (endpoints_.empty()) return;
    const auto* members = p.if_contains("member_ids");
    if (!members || !members->is_array()) return;
    for (const auto& m : members->as_array()) {
      if (!m.is_string() || m.as_string() == sender) continue;
      auto it = endpoints_.find(std::string(m.as_string()));
      if (it == endpoints_.end()) continue;
      targets.emplace_back(it->first, std::vector<std::pair<std::string, std::string>>(
                                          it->second.begin(), it->second.end()));
    }
  }
  for (const auto& [user, devices] : targets) {
    for (const auto& [device, endpoint] : devices) {
      if (device_online_(user, device)) continue;
      ctx_.bus.Publish(events::topic::kNotification,
                       events::MakeEvent(kPushRequested, user,
                                         {{"user_id", user},
                                          {"device_id", device},
                                          {"conversation_id", p.at("conversation_id")},
                                          {"seq", p.at("seq")}}));
    }
  }
}

void NotifyService::OnNotificationEvent(const events::EventPtr& e) {
  const auto& p = e->payload;
  std::string user = StringOr(p, "user_id");
  if (e->type == kPushRequested) {
    std::string device = StringOr(p, "device_id");
    std::string endpoint;
    {
      std::lock_guard lock(mu_);
      auto u = endpoints_.find(user);
      if (u == endpoints_.end()) return;
      auto d = u->second.find(device);
      if (d == u->second.end()) return;
      endpoint = d->second;
    }
    // Unread count needs a store read: off the publisher's thread.
    std::string conv = StringOr(p, "conversation_id");
    int64_t seq = p.at("seq").as_int64();
    boost::asio::post(ctx_.blocking, [this, user, device, endpoint, conv, seq] {
      int64_t unread = 1;
      auto m = ctx_.message_store.GetMembership(conv, user);
      if (m.ok()) unread = std::max<int64_t>(1, seq - std::max(m->read_seq, m->joined_seq));
      sender_.Enqueue(device, endpoint,
                      {{"type", "message"}, {"conversation_id", conv}, {"unread_count", unread}});
    });
  } else if (e->type == kNotificationCreated) {
    std::vector<std::pair<std::string, std::string>> devices;
    {
      std::lock_guard lock(mu_);
      auto u = endpoints_.find(user);
      if (u != endpoints_.end()) devices.assign(u->second.begin(), u->second.end());
    }
    const auto* n = p.if_contains("notification");
    int64_t id = n && n->is_object() && n->as_object().contains("notification_id")
                     ? n->as_object().at("notification_id").as_int64()
                     : 0;
    for (const auto& [device, endpoint] : devices) {
      if (device_online_(user, device)) continue;
      sender_.Enqueue(device, endpoint, {{"type", "notification"}, {"notification_id", id}});
    }
  }
}

NotifyService::Awaitable NotifyService::RegisterPush(HttpRequest& req) {
  auto body = ParseJsonObject(req.body);
  if (!body.ok()) co_return ErrorResponse(body.error());
  Fields f(*body);
  auto endpoint = f.Str("endpoint", true, kMaxEndpointBytes);
  if (!f.ok()) co_return ErrorResponse(f.error());
  std::string url = endpoint.value_or("");
  if (!url.empty()) {
    auto u = boost::urls::parse_absolute_uri(url);
    if (!u || (u->scheme() != "http" && u->scheme() != "https") || u->host().empty() ||
        u->has_userinfo()) {
      co_return ErrorResponse(MakeError(ErrorCode::kInvalidArgument,
                                        "endpoint must be an http or https URL (or empty to remove)"));
    }
    // An address written in the URL is judged now; a name, at each push (on what it resolves
    // to then).
    if (u->host_type() == boost::urls::host_type::ipv4 ||
        u->host_type() == boost::urls::host_type::ipv6) {
      boost::system::error_code ec;
      auto address = boost::asio::ip::make_address(std::string(u->host_address()), ec);
      if (ec || !sender_.MayReach(address)) {
        co_return ErrorResponse(MakeError(
            ErrorCode::kInvalidArgument,
            "endpoint must be a public address (loopback, private, link-local and other "
            "internal addresses are refused)"));
      }
    }
  }
  const auto& who = *req.principal;
  auto r = co_await AwaitDone<Unit>([&](auto done) {
    store_.SetPushEndpoint({who.device_id, who.user_id, url}, std::move(done));
  });
  if (!r.ok()) co_return ErrorResponse(r.error());
  {
    std::lock_guard lock(mu_);
    if (url.empty()) {
      auto it = endpoints_.find(who.user_id);
      if (it != endpoints_.end()) {
        it->second.erase(who.device_id);
        if (it->second.empty()) endpoints_.erase(it);
      }
    } else {
      endpoints_[who.user_id][who.device_id] = url;
    }
  }
  co_return transport::EmptyResponse(204);
}

NotifyService::Awaitable NotifyService::SendNotification(HttpRequest& req) {
  auto body = ParseJsonObject(req.body);
  if (!body.ok()) co_return ErrorResponse(body.error());
  Fields f(*body);
  auto user = f.Uuid("user_id", true);
  auto title = f.Str("title", true, kMaxTitleBytes);
  auto text = f.Str("body", true, kMaxBodyBytes);
  const auto* data = f.Obj("data", false);
  if (!f.ok()) co_return ErrorResponse(f.error());
  std::string data_text = data ? boost::json::serialize(*data) : "{}";
  if (data_text.size() > kMaxDataBytes) {
    co_return ErrorResponse(MakeError(ErrorCode::kInvalidArgument, "data is larger than 4096 bytes"));
  }
  auto allowed = co_await OnPool(ctx_.blocking, [&]() -> Result<bool> {
    auto admin = IsAdmin(ctx_.auth_store, req.principal->user_id);
    if (!admin.ok()) return admin.error();
    if (!*admin) return MakeError(ErrorCode::kForbidden, "admins and services only");
    auto target = ctx_.auth_store.GetUser(*user);
    if (!target.ok()) return target.error();
    return true;
  });
  if (!allowed.ok()) co_return ErrorResponse(allowed.error());
  storage::Notification n{0, *user, *title, *text, data_text, NowMs()};
  auto id = co_await AwaitDone<int64_t>([&](auto done) {
    store_.AddNotification(n, [this, done, n](Result<int64_t> r) mutable {
      if (r.ok()) {
        n.id = *r;
        ctx_.bus.Publish(events::topic::kNotification,
                         events::MakeEvent(kNotificationCreated, n.user_id,
                                           {{"user_id", n.user_id},
                                            {"notification", NotificationJson(n)}}));
      }
      done(std::move(r));
    });
  });
  if (!id.ok()) co_return ErrorResponse(id.error());
  PublishAudit(ctx_.bus, {"admin.send_notification", req.principal->user_id,
                          req.principal->device_id, *user, req.remote_address,
                          {{"notification_id", *id}}});
  co_return JsonResponse(202, {{"notification_id", *id}});
}

NotifyService::Awaitable NotifyService::List(HttpRequest& req) {
  auto limit = QueryInt(req.Query("limit"), "limit", 1, 200);
  if (!limit.ok()) co_return ErrorResponse(limit.error());
  auto before = QueryInt(req.Query("before"), "before", 1, INT64_MAX);
  if (!before.ok()) co_return ErrorResponse(before.error());
  auto list = co_await OnPool(ctx_.blocking, [&] {
    return store_.ListNotifications(req.principal->user_id, before->value_or(0),
                                    static_cast<int>(limit->value_or(50)));
  });
  if (!list.ok()) co_return ErrorResponse(list.error());
  boost::json::array out;
  for (const auto& n : *list) out.push_back(NotificationJson(n));
  co_return JsonResponse(200, {{"notifications", std::move(out)}});
}

}  // namespace parley::services
