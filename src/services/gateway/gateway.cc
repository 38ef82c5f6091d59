#include "services/gateway/gateway.h"

#include <boost/asio.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url.hpp>

#include "common/async.h"
#include "common/error_map.h"
#include "common/json_fields.h"
#include "common/log.h"
#include "common/time.h"
#include "events/event.h"
#include "services/delivery/delivery_router.h"
#include "services/gateway/origin_check.h"
#include "services/gateway/ws_session.h"

namespace parley::services {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

std::vector<std::string> StringList(const boost::json::value* v) {
  std::vector<std::string> out;
  if (!v || !v->is_array()) return out;
  for (const auto& e : v->as_array())
    if (e.is_string()) out.emplace_back(e.as_string());
  return out;
}

// Answers an upgrade request with the error (no handshake) and closes the connection; `status`
// overrides the error's own.
void RefuseUpgrade(beast::tcp_stream stream, const http::request<http::string_body>& req,
                   const Error& err, int status = 0) {
  auto res = std::make_shared<http::response<http::string_body>>(
      static_cast<http::status>(status ? status : HttpStatusOf(err.code)), req.version());
  res->set(http::field::content_type, "application/json");
  res->set(http::field::sec_websocket_version, "13");  // the one version served
  res->body() = boost::json::serialize(boost::json::object{
      {"error", {{"code", CodeName(err.code)}, {"message", err.message}}}});
  res->keep_alive(false);
  res->prepare_payload();
  auto s = std::make_shared<beast::tcp_stream>(std::move(stream));
  http::async_write(*s, *res, [s, res](beast::error_code, size_t) {
    beast::error_code ec;
    s->socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  });
}

}  // namespace

Gateway::Gateway(Context& ctx, AuthService& auth, ChatService& chat, PresenceService& presence)
    : ctx_(ctx),
      auth_(auth),
      chat_(chat),
      presence_(presence),
      deliveries_(ctx.metrics.Counter("parley_ws_message_deliveries_total",
                                      "Message frames queued to WebSocket sessions")),
      live_events_(ctx.metrics.Counter(
          "parley_gateway_live_events_total",
          "Live events (message, receipt, typing, to-device) this node's gateway read: those "
          "addressed to it when deliveries are routed, else every one of the cluster")),
      unheld_events_(ctx.metrics.Counter(
          "parley_gateway_live_events_unheld_total",
          "Live events this node's gateway read that reached no session here (read for "
          "nothing)")),
      event_age_seconds_(ctx.metrics.NewHistogram(
          "parley_gateway_message_age_seconds",
          "A message's created_at (taken by the store) to its event reaching this node's gateway "
          "(commit, publish and the bus together; wall clocks, millisecond resolution)")),
      gap_seconds_(ctx.metrics.NewHistogram(
          "parley_ws_gap_seconds",
          "A conversation's live messages parked above a gap on one connection, until the gap "
          "closed (cross-node reordering)")) {}

void Gateway::Start() {
  ctx_.metrics.Gauge("parley_ws_connections", "Open WebSocket sessions",
                     [this] { return static_cast<double>(hub_.size()); });
  auto on_live = [this](std::string_view, const events::EventPtr& e) {
    if (e->type == events::type::kRoutesChanged) {  // not a live event: routing's own
      ctx_.deliveries.Forget(e->key);
      return;
    }
    live_events_.fetch_add(1, std::memory_order_relaxed);
    if (OnMessageEvent(e) == 0) unheld_events_.fetch_add(1, std::memory_order_relaxed);
  };
  if (routed()) {
    ctx_.bus.Subscribe(events::topic::kDeliveries, on_live, events::Delivery::kAddressed);
  } else {
    ctx_.bus.Subscribe(events::topic::kMessage, on_live);
  }
  ctx_.bus.Subscribe(events::topic::kUserStatus,
                     [this](std::string_view, const events::EventPtr& e) { OnStatusEvent(e); });
  ctx_.bus.Subscribe(events::topic::kGroup,
                     [this](std::string_view, const events::EventPtr& e) { OnGroupEvent(e); });
  // Notifications for online devices arrive as frames; offline ones get pushes (notify service).
  ctx_.bus.Subscribe(events::topic::kNotification,
                     [this](std::string_view, const events::EventPtr& e) {
                       if (e->type != "NOTIFICATION_CREATED") return;
                       const auto* n = e->payload.if_contains("notification");
                       if (!n) return;
                       Frame frame = MakeFrame({{"type", "notification"}, {"notification", *n}});
                       for (auto& s : hub_.ForUser(e->key)) s->Send(frame);
                     });
  // Connections end with their credentials (docs/api.md, WebSocket close codes).
  auth_.OnDeviceRevoked([this](const std::string& device_id, AuthService::Revoked what) {
    const char* reason =
        what == AuthService::Revoked::kDevice ? "device revoked" : "sessions revoked";
    for (auto& s : hub_.ForDevice(device_id)) s->Close(kCloseRevoked, reason);
  });
  auth_.OnTokenDenied([this](const std::string& user_id, const std::string& jti) {
    for (auto& s : hub_.ForUser(user_id))
      if (s->principal().jti == jti) s->Close(kCloseLoggedOut, "logged out");
  });
}

bool Gateway::routed() const { return ctx_.deliveries.routed(); }

void Gateway::SessionOpened(const transport::Principal& who) {
  ctx_.deliveries.Forget(who.user_id);
  std::function<void()> recorded;
  // The user's first session here (the only one in the hub): once the registry has it, the
  // other nodes drop what they cached about where the user is (DeliveryRouter::UserConnected).
  if (routed() && hub_.ForUser(who.user_id).size() == 1) {
    recorded = [this, user = who.user_id] { ctx_.deliveries.UserConnected(user); };
  }
  presence_.DeviceConnected(who.user_id, who.device_id, std::move(recorded));
}

void Gateway::SessionClosed(const transport::Principal& who) {
  ctx_.deliveries.Forget(who.user_id);
  presence_.DeviceDisconnected(who.user_id, who.device_id);
}

bool Gateway::DeviceOnline(const std::string& user_id, const std::string& device_id) const {
  for (const auto& s : hub_.ForUser(user_id))
    if (s->principal().device_id == device_id) return true;
  return false;
}

void Gateway::Upgrade(beast::tcp_stream stream, http::request<http::string_body> req,
                      std::string remote) {
  // Refused before the handshake, so a foreign page gets nothing but the status.
  auto origin_field = req.find(http::field::origin);
  std::optional<std::string_view> origin;
  if (origin_field != req.end()) origin = origin_field->value();
  if (!WsOriginAllowed(origin, req[http::field::host], ctx_.config.ws_allowed_origins)) {
    LogInfo("websocket origin refused", {{"origin", std::string(*origin)}, {"remote", remote}});
    RefuseUpgrade(std::move(stream), req,
                  MakeError(ErrorCode::kForbidden, "origin not allowed; see --ws-allowed-origins"));
    return;
  }
  std::string token;
  auto auth = req.find(http::field::authorization);
  if (auth != req.end()) token = std::string(transport::BearerToken(auth->value()));
  if (token.empty()) {
    auto target = boost::urls::parse_origin_form(req.target());
    if (target) {
      auto it = target->params().find("access_token");
      if (it != target->params().end()) token = (*it).value;
    }
  }
  Result<transport::Principal> who =
      token.empty() ? Result<transport::Principal>(
                          MakeError(ErrorCode::kUnauthenticated, "missing access token"))
                    : auth_.Authenticate(token);
  if (!who.ok()) {
    RefuseUpgrade(std::move(stream), req, who.error());
    return;
  }
  // The handshake's own fields (RFC 6455 section 4.2.1). Another version than 13 gets 426
  // Upgrade Required (every refusal names 13, the one served); a missing or malformed key 400.
  const std::string_view version = req[http::field::sec_websocket_version];
  auto handshake = transport::WsAcceptResponse(req[http::field::sec_websocket_key], version,
                                               "parleyd");
  if (!handshake.ok()) {
    RefuseUpgrade(std::move(stream), req, handshake.error(),
                  version != "13" ? static_cast<int>(http::status::upgrade_required) : 0);
    return;
  }
  auto session = std::make_shared<WsSession>(*this, std::move(stream), std::move(*who));
  session->Start(std::move(*handshake));
}

void Gateway::CloseAll() {
  for (auto& s : hub_.All()) {
    draining_.fetch_add(1);
    s->Drain(1012, "server restarting", [this] { draining_.fetch_sub(1); });
  }
}

size_t Gateway::OnMessageEvent(const events::EventPtr& e) {
  const auto& p = e->payload;
  size_t reached = 0;
  if (e->type == events::type::kMessageSent) {
    const auto* msg = p.if_contains("message");
    if (!msg) return 0;
    Frame frame = MessageFrame(*msg);  // serialized once for every recipient
    std::string conv = StringOr(p, "conversation_id");
    std::string sender_device = StringOr(p, "sender_device_id");
    int64_t seq = p.at("seq").as_int64();
    if (const auto* created = msg->is_object() ? msg->as_object().if_contains("created_at") : nullptr;
        created && created->is_int64()) {
      event_age_seconds_.Observe(std::chrono::milliseconds(NowMs() - created->as_int64()));
    }
    for (const auto& user : StringList(p.if_contains("member_ids"))) {
      for (auto& s : hub_.ForUser(user)) {
        ++reached;
        if (s->principal().device_id == sender_device) {
          s->NoteOwnMessage(conv, seq);
          continue;
        }
        s->DeliverMessage(frame, conv, seq);
        deliveries_.fetch_add(1, std::memory_order_relaxed);
      }
    }
  } else if (e->type == events::type::kMessageDelivered || e->type == events::type::kMessageRead) {
    const auto* up_to = p.if_contains("up_to_seq");
    if (!up_to || !up_to->is_int64()) return 0;
    Frame frame = MakeFrame({{"type", "receipt"},
                             {"conversation_id", p.at("conversation_id")},
                             {"user_id", p.at("user_id")},
                             {"kind", p.at("kind")},
                             {"up_to_seq", *up_to},
                             {"at", p.at("at")}});
    std::string key = StringOr(p, "conversation_id") + '/' + StringOr(p, "user_id") + '/' +
                      StringOr(p, "kind");
    // A node of an older version (a rolling upgrade) names every member instead.
    const auto* recipients = p.if_contains("recipient_ids");
    if (!recipients) recipients = p.if_contains("member_ids");
    for (const auto& user : StringList(recipients)) {
      for (auto& s : hub_.ForUser(user)) {
        s->SendReceipt(frame, key, up_to->as_int64());
        ++reached;
      }
    }
  } else if (e->type == events::type::kTyping) {
    Frame frame = MakeFrame({{"type", "typing"},
                             {"conversation_id", StringOr(p, "conversation_id")},
                             {"user_id", StringOr(p, "user_id")}});
    for (const auto& user : StringList(p.if_contains("recipient_ids"))) {
      for (auto& s : hub_.ForUser(user)) {
        s->Send(frame);
        ++reached;
      }
    }
  } else if (e->type == events::type::kToDevice) {
    boost::json::object f = p;
    f.erase("to_user_id");
    f["type"] = "to_device";
    Frame frame = MakeFrame(f);
    std::string device = StringOr(p, "to_device_id");
    int64_t id = p.at("id").as_int64();
    for (auto& s : hub_.ForUser(StringOr(p, "to_user_id"))) {
      if (s->principal().device_id != device) continue;
      s->DeliverToDevice(frame, id);
      ++reached;
    }
  }
  return reached;
}

void Gateway::OnStatusEvent(const events::EventPtr& e) {
  const auto& p = e->payload;
  std::string user = StringOr(p, "user_id");
  Frame frame = MakeFrame({{"type", "presence"},
                           {"user_id", user},
                           {"status", p.at("status")},
                           {"text", p.at("text")},
                           {"last_seen_at", p.at("last_seen_at")}});
  // Who may see it needs a store read: do it on the pool, not on the publisher's thread.
  asio::post(ctx_.blocking, [this, user, frame] {
    auto contacts = ctx_.message_store.Contacts(user);
    if (!contacts.ok()) return;
    for (const auto& c : *contacts)
      for (auto& s : hub_.ForUser(c)) s->Send(frame);
  });
}

void Gateway::OnGroupEvent(const events::EventPtr& e) {
  const auto& p = e->payload;
  const auto* group = p.if_contains("group");
  if (!group) return;
  const char* what = e->type == events::type::kGroupCreated ? "created" : "updated";
  Frame frame = MakeFrame({{"type", "group"}, {"event", what}, {"group", *group}});
  for (const auto& user : StringList(p.if_contains("recipient_ids")))
    for (auto& s : hub_.ForUser(user)) s->Send(frame);
}

void Gateway::RelayTyping(const transport::Principal& who, const std::string& conversation_id) {
  asio::post(ctx_.blocking, [this, who, conversation_id] {
    // Per user and conversation, all devices and nodes together; checked before the store read,
    // so dropped frames cost nothing more.
    if (ctx_.limits.typing_per_user_conversation->Allow(who.user_id + ":" + conversation_id))
      return;
    auto members = ctx_.message_store.ActiveMembers(conversation_id);
    if (!members.ok()) return;
    // Fan-out is bounded: in a large conversation typing would cost members × typists frames.
    const int64_t most = ctx_.config.typing_max_members;
    if (most > 0 && static_cast<int64_t>(members->size()) > most) return;
    bool member = false;
    std::vector<std::string> others;
    boost::json::array recipients;
    for (const auto& m : *members) {
      if (m == who.user_id) {
        member = true;
      } else {
        recipients.emplace_back(m);
        others.push_back(m);
      }
    }
    if (!member) return;  // not a member: nothing relayed, nothing said
    // Through the bus like every live frame, so members connected to other nodes see it too.
    ctx_.deliveries.Publish(events::type::kTyping, conversation_id,
                            {{"conversation_id", conversation_id},
                             {"user_id", who.user_id},
                             {"recipient_ids", std::move(recipients)}},
                            others);
  });
}

}  // namespace parley::services
