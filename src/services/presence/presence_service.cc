#include "services/presence/presence_service.h"

#include <boost/asio/post.hpp>

#include "common/async.h"
#include "common/ids.h"
#include "common/json_fields.h"
#include "common/log.h"
#include "common/time.h"
#include "events/event.h"

namespace parley::services {

using transport::Auth;
using transport::ErrorResponse;
using transport::HttpRequest;
using transport::HttpResponse;
using transport::JsonResponse;

namespace {
constexpr size_t kMaxStatusText = 140;
constexpr size_t kMaxUsersPerQuery = 200;

bool IsStatus(std::string_view s) {
  return s == "online" || s == "away" || s == "busy" || s == "offline";
}
}  // namespace

void PresenceService::Register(transport::Router& r) {
  r.Add("POST", "/v1/update-status", Auth::kRequired, [this](HttpRequest& q) { return Update(q); });
  r.Add("GET", "/v1/get-status", Auth::kRequired, [this](HttpRequest& q) { return GetStatus(q); });
}

std::string PresenceService::Effective(const State& s) {
  if (s.connections == 0 && !s.in_grace) return "offline";
  return s.chosen;  // "offline" here means the user chose to appear offline
}

PresenceService::State& PresenceService::Get(const std::string& user_id) {
  State& s = users_[user_id];
  if (!s.loaded) {
    s.loaded = true;
    auto u = ctx_.auth_store.GetUser(user_id);
    if (u.ok()) {
      s.chosen = IsStatus(u->status) ? u->status : "online";
      s.text = u->status_text;
      s.last_seen_at = u->last_seen_at;
    }
    s.published = "offline";
  }
  return s;
}

void PresenceService::Persist(const std::string& user_id, const State& s) {
  ctx_.auth_store.SetPresence(user_id, s.chosen, s.text, s.last_seen_at, [](Result<Unit>) {});
}

void PresenceService::MaybePublish(const std::string& user_id, State& s, bool force) {
  std::string now = Effective(s);
  if (!force && now == s.published) return;
  s.published = now;
  ctx_.bus.Publish(events::topic::kUserStatus,
                   events::MakeEvent(events::type::kUserStatusChanged, user_id,
                                     {{"user_id", user_id},
                                      {"status", now},
                                      {"text", s.text},
                                      {"last_seen_at", s.last_seen_at}}));
}

int PresenceService::Connections(const std::string& user_id, int fallback) {
  auto n = registry_.UserConnections(user_id);
  if (!n.ok()) {
    LogWarn("presence: connection registry unavailable", {{"error", n.error().message}});
    return fallback;
  }
  return static_cast<int>(*n);
}

void PresenceService::DeviceConnected(const std::string& user_id, const std::string& device_id,
                                      std::function<void()> recorded) {
  boost::asio::post(ctx_.blocking, [this, user_id, device_id, recorded = std::move(recorded)] {
    if (Status st = registry_.Connected(user_id, device_id); !st.ok())
      LogWarn("presence: cannot record a connection", {{"error", st.error().message}});
    if (recorded) recorded();
    std::lock_guard lock(mu_);
    if (stopped_) return;
    State& s = Get(user_id);
    s.connections = std::max(1, Connections(user_id, s.connections + 1));
    s.generation++;
    s.in_grace = false;
    if (s.timer) s.timer->cancel();
    MaybePublish(user_id, s, false);
  });
}

void PresenceService::DeviceDisconnected(const std::string& user_id, const std::string& device_id) {
  int64_t gone_at = NowMs();
  boost::asio::post(ctx_.blocking, [this, user_id, device_id, gone_at] {
    if (Status st = registry_.Disconnected(user_id, device_id); !st.ok())
      LogWarn("presence: cannot record a disconnection", {{"error", st.error().message}});
    std::lock_guard lock(mu_);
    if (stopped_) return;
    State& s = Get(user_id);
    s.connections = Connections(user_id, std::max(0, s.connections - 1));
    if (s.connections > 0) return;  // another device (on this node or another) is connected
    StartGrace(user_id, s, gone_at, false);
  });
}

void PresenceService::StartGrace(const std::string& user_id, State& s, int64_t gone_at,
                                 bool force_publish) {
  s.in_grace = true;
  uint64_t gen = ++s.generation;
  s.timer = std::make_shared<boost::asio::steady_timer>(
      ctx_.blocking, std::chrono::milliseconds(ctx_.config.presence_offline_after_ms));
  s.timer->async_wait([this, user_id, gen, gone_at, force_publish](boost::system::error_code ec) {
    if (ec) return;
    std::lock_guard lock(mu_);
    if (stopped_) return;
    State& st = Get(user_id);
    st.connections = Connections(user_id, st.connections);
    if (st.generation != gen || st.connections > 0) return;
    st.in_grace = false;
    st.last_seen_at = gone_at;
    Persist(user_id, st);
    MaybePublish(user_id, st, force_publish);
  });
}

void PresenceService::Recheck(const std::vector<std::string>& user_ids) {
  int64_t gone_at = NowMs();
  boost::asio::post(ctx_.blocking, [this, user_ids, gone_at] {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    for (const auto& user_id : user_ids) {
      State& s = Get(user_id);
      s.connections = Connections(user_id, s.connections);
      if (s.connections > 0 || s.in_grace) continue;
      // This node may never have published this user online; the crashed one did.
      StartGrace(user_id, s, gone_at, true);
    }
  });
}

void PresenceService::Stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  for (auto& [id, s] : users_)
    if (s.timer) s.timer->cancel();
}

boost::asio::awaitable<HttpResponse> PresenceService::Update(HttpRequest& req) {
  auto body = ParseJsonObject(req.body);
  if (!body.ok()) co_return ErrorResponse(body.error());
  Fields f(*body);
  auto status = f.Str("status", true, 16);
  auto text = f.Str("text", false, kMaxStatusText);
  if (f.ok() && !IsStatus(*status)) f.Fail("status must be online, away, busy or offline");
  if (!f.ok()) co_return ErrorResponse(f.error());
  const std::string user = req.principal->user_id;
  // 204 only once the store has the change: any node's next read must see it (another node
  // reads the user record, possibly through the shared cache, on every get-status).
  auto stored = co_await AwaitDone<Unit>([&](auto done) {
    boost::asio::post(ctx_.blocking, [&, done = std::move(done)]() mutable {
      std::lock_guard lock(mu_);
      // Once `done` is handed over the coroutine may resume and end: nothing of its frame
      // (`user`, `status`, `text`) may be read after that.
      const std::string user_id = user;
      State& s = Get(user_id);
      bool text_changed = text.has_value() && *text != s.text;
      s.chosen = *status;
      if (text) s.text = *text;
      if (*status == "offline") s.last_seen_at = NowMs();
      ctx_.auth_store.SetPresence(user_id, s.chosen, s.text, s.last_seen_at, std::move(done));
      MaybePublish(user_id, s, text_changed);
    });
  });
  if (!stored.ok()) co_return ErrorResponse(stored.error());
  co_return transport::EmptyResponse(204);
}

boost::asio::awaitable<HttpResponse> PresenceService::GetStatus(HttpRequest& req) {
  const std::string* list = req.Query("user_ids");
  if (!list || list->empty()) {
    co_return ErrorResponse(MakeError(ErrorCode::kInvalidArgument, "user_ids is required"));
  }
  std::vector<std::string> ids;
  size_t start = 0;
  while (start <= list->size()) {
    size_t comma = list->find(',', start);
    if (comma == std::string::npos) comma = list->size();
    auto id = NormalizeUuid(std::string_view(*list).substr(start, comma - start));
    if (!id) {
      co_return ErrorResponse(
          MakeError(ErrorCode::kInvalidArgument, "user_ids must be comma-separated UUIDs"));
    }
    ids.push_back(*id);
    if (ids.size() > kMaxUsersPerQuery) {
      co_return ErrorResponse(MakeError(ErrorCode::kInvalidArgument, "at most 200 user_ids"));
    }
    start = comma + 1;
  }
  const std::string me = req.principal->user_id;
  auto statuses = co_await OnPool(ctx_.blocking, [&]() -> Result<boost::json::array> {
    boost::json::array out;
    for (const auto& id : ids) {
      if (id != me) {
        auto shares = ctx_.message_store.SharesConversation(me, id);
        if (!shares.ok()) return shares.error();
        if (!*shares) continue;  // not visible: left out, not an error
      }
      std::lock_guard lock(mu_);
      State& s = Get(id);
      if (shared_state_) {
        // Another node may have changed the chosen status or seen the last device go.
        if (auto u = ctx_.auth_store.GetUser(id); u.ok()) {
          s.chosen = IsStatus(u->status) ? u->status : "online";
          s.text = u->status_text;
          s.last_seen_at = std::max(s.last_seen_at, u->last_seen_at);
        }
        s.connections = Connections(id, s.connections);
        if (s.connections > 0) s.in_grace = false;
      }
      out.push_back({{"user_id", id},
                     {"status", Effective(s)},
                     {"text", s.text},
                     {"last_seen_at", s.last_seen_at}});
    }
    return out;
  });
  if (!statuses.ok()) co_return ErrorResponse(statuses.error());
  co_return JsonResponse(200, {{"statuses", std::move(*statuses)}});
}

}  // namespace parley::services
