#include "services/auth/auth_service.h"

#include "common/async.h"
#include "common/encoding.h"
#include "common/ids.h"
#include "common/json_fields.h"
#include "common/log.h"
#include "common/time.h"
#include "events/event.h"
#include "services/audit/audit_event.h"
#include "services/auth/user_json.h"

namespace parley::services {

using transport::Auth;
using transport::ErrorResponse;
using transport::HttpRequest;
using transport::HttpResponse;
using transport::JsonResponse;

namespace {

constexpr size_t kRefreshTokenBytes = 32;

// Lowercases and checks a username: 3-32 of [a-z0-9_.].
std::optional<std::string> NormalizeUsername(std::string_view raw) {
  if (raw.size() < 3 || raw.size() > 32) return std::nullopt;
  std::string out(raw);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
      return std::nullopt;
  }
  return out;
}

Error BadCredentials() {
  return MakeError(ErrorCode::kUnauthenticated, "wrong username or password");
}

}  // namespace

AuthService::AuthService(Context& ctx, auth::JwtSigner signer, storage::RevocationList* shared)
    : ctx_(ctx),
      signer_(std::move(signer)),
      password_params_{static_cast<unsigned long long>(ctx.config.argon2_opslimit),
                       static_cast<size_t>(ctx.config.argon2_memlimit_kib) * 1024},
      shared_(shared) {}

Status AuthService::Start() {
  auto dummy = auth::HashPassword(RandomBytes(16), password_params_);
  if (!dummy.ok()) return dummy.error();
  dummy_hash_ = *dummy;
  auto revoked = ctx_.auth_store.ListRevokedDevices();
  if (!revoked.ok()) return revoked.error();
  auto denied = ctx_.auth_store.ListDeniedAccessTokens(NowMs());
  if (!denied.ok()) return denied.error();
  {
    std::unique_lock lock(mu_);
    revoked_devices_.insert(revoked->begin(), revoked->end());
    denied_jtis_.insert(denied->begin(), denied->end());
  }
  // Revocations made on another node (scale-out): applied here at once. Our own come back too
  // and change nothing (already in the sets).
  ctx_.bus.Subscribe(events::topic::kAuth, [this](std::string_view, const events::EventPtr& e) {
    OnAuthEvent(*e);
  });
  return OkStatus();
}

void AuthService::OnAuthEvent(const events::Event& e) {
  const auto* device = e.payload.if_contains("device_id");
  const auto* jti = e.payload.if_contains("jti");
  if (e.type == events::type::kDeviceRevoked && device && device->is_string()) {
    std::string id(device->as_string());
    bool fresh;
    {
      std::unique_lock lock(mu_);
      fresh = revoked_devices_.insert(id).second;
    }
    if (fresh)
      for (const auto& cb : on_revoked_) cb(id, Revoked::kDevice);
  } else if (e.type == events::type::kAccessTokenDenied && jti && jti->is_string()) {
    std::string id(jti->as_string());
    bool fresh;
    {
      std::unique_lock lock(mu_);
      fresh = denied_jtis_.insert(id).second;
    }
    if (fresh)
      for (const auto& cb : on_denied_) cb(e.key, id);
  } else if (e.type == events::type::kDeviceSessionsRevoked && device && device->is_string()) {
    const auto* before = e.payload.if_contains("before_s");
    if (before && before->is_int64())
      RevokeSessions(std::string(device->as_string()), before->as_int64());
  }
}

void AuthService::RevokeSessions(const std::string& device_id, int64_t before_s) {
  bool fresh;
  {
    std::unique_lock lock(mu_);
    int64_t& at = sessions_revoked_before_[device_id];
    fresh = before_s > at;
    at = std::max(at, before_s);
    // Forget marks no token they refuse can still be valid for.
    const int64_t now_s = NowMs() / 1000;
    std::erase_if(sessions_revoked_before_, [&](const auto& kv) {
      return kv.second + auth::kMaxAccessTokenTtlS + 60 < now_s;
    });
  }
  if (fresh)
    for (const auto& cb : on_revoked_) cb(device_id, Revoked::kSessions);
}

Result<transport::Principal> AuthService::Authenticate(std::string_view token) const {
  auto claims = signer_.Verify(token, NowMs() / 1000);
  if (!claims.ok()) return claims.error();
  {
    std::shared_lock lock(mu_);
    if (revoked_devices_.count(claims->did))
      return MakeError(ErrorCode::kUnauthenticated, "device revoked");
    if (denied_jtis_.count(claims->jti))
      return MakeError(ErrorCode::kUnauthenticated, "token revoked");
    auto revoked_before = sessions_revoked_before_.find(claims->did);
    if (revoked_before != sessions_revoked_before_.end() && claims->iat < revoked_before->second)
      return MakeError(ErrorCode::kUnauthenticated, "sessions revoked");
  }
  if (shared_) {
    auto revoked = shared_->IsRevoked(claims->did, claims->jti);
    if (revoked.ok() && *revoked) return MakeError(ErrorCode::kUnauthenticated, "token revoked");
    if (!revoked.ok()) {
      int64_t now = NowMs(), last = last_shared_warn_ms_.load();
      if (now - last >= 10'000 && last_shared_warn_ms_.compare_exchange_strong(last, now))
        LogWarn("shared revocation list unavailable; this node's own list decides",
                {{"error", revoked.error().message}});
    }
  }
  return transport::Principal{claims->sub, claims->did, claims->jti, claims->exp};
}

boost::asio::awaitable<void> AuthService::ShareRevocation(bool device, std::string id, int64_t ttl_ms) {
  if (!shared_) co_return;
  Status st = co_await OnPool(ctx_.blocking, [&] {
    return device ? shared_->RevokeDevice(id, ttl_ms) : shared_->DenyToken(id, ttl_ms);
  });
  if (!st.ok())
    LogWarn("shared revocation list unavailable; other nodes learn of the revocation from the bus",
            {{"error", st.error().message}});
}

void AuthService::Register(transport::Router& r) {
  auto bind = [this](Awaitable (AuthService::*fn)(HttpRequest&)) {
    return [this, fn](HttpRequest& req) { return (this->*fn)(req); };
  };
  r.Add("POST", "/v1/signup", Auth::kNone, bind(&AuthService::Signup));
  r.Add("POST", "/v1/login", Auth::kNone, bind(&AuthService::Login));
  r.Add("POST", "/v1/refresh-token", Auth::kNone, bind(&AuthService::Refresh));
  r.Add("POST", "/v1/logout", Auth::kRequired, bind(&AuthService::Logout));
  r.Add("GET", "/.well-known/jwks.json", Auth::kNone, [this](HttpRequest&) -> Awaitable {
    co_return JsonResponse(200, signer_.Jwks(NowMs() / 1000));
  });
  r.Add("GET", "/v1/users/{user_id}", Auth::kRequired, bind(&AuthService::GetUser));
  r.Add("GET", "/v1/users", Auth::kRequired, bind(&AuthService::FindUser));
  r.Add("GET", "/v1/devices", Auth::kRequired, bind(&AuthService::ListDevices));
  r.Add("DELETE", "/v1/devices/{device_id}", Auth::kRequired, bind(&AuthService::DeleteDevice));
}

std::string AuthService::AccessToken(const std::string& user_id, const std::string& device_id) const {
  int64_t now = NowMs() / 1000;
  int64_t iat = now;
  {
    // After a refresh-token reuse, tokens issued up to the end of that second are refused
    // (iat has whole seconds): one issued to the owner's new login counts from there.
    std::shared_lock lock(mu_);
    auto it = sessions_revoked_before_.find(device_id);
    if (it != sessions_revoked_before_.end()) iat = std::max(iat, it->second);
  }
  return signer_.Sign({user_id, device_id, NewUuidV4(), iat, iat + ctx_.config.access_token_ttl_s});
}

boost::asio::awaitable<Result<boost::json::object>> AuthService::IssueTokens(
    const std::string& user_id, const std::string& device_id) {
  std::string refresh = Base64UrlEncode(RandomBytes(kRefreshTokenBytes));
  int64_t now = NowMs();
  storage::RefreshToken t{Sha256(refresh), user_id, device_id, now,
                          now + ctx_.config.refresh_token_ttl_s * 1000};
  auto stored = co_await AwaitDone<Unit>(
      [&](auto done) { ctx_.auth_store.InsertRefreshToken(std::move(t), std::move(done)); });
  if (!stored.ok()) co_return stored.error();
  co_return boost::json::object{{"access_token", AccessToken(user_id, device_id)},
                                {"refresh_token", refresh},
                                {"token_type", "Bearer"},
                                {"expires_in", ctx_.config.access_token_ttl_s}};
}

AuthService::Awaitable AuthService::Signup(HttpRequest& req) {
  auto body = ParseJsonObject(req.body);
  if (!body.ok()) co_return ErrorResponse(body.error());
  Fields f(*body);
  auto raw_name = f.Str("username", true, 256);
  auto password = f.Str("password", true, 4096);
  auto display = f.Str("display_name", false, 128);
  if (!f.ok()) co_return ErrorResponse(f.error());
  if (int64_t wait = ctx_.limits.signup_per_address->Allow(req.remote_address)) {
    co_return ErrorResponse(RateLimited(wait));
  }
  auto username = NormalizeUsername(*raw_name);
  if (!username) {
    co_return ErrorResponse(MakeError(ErrorCode::kInvalidArgument,
                                      "username must be 3-32 characters of a-z, 0-9, _ and ."));
  }
  if (password->size() < 8 || password->size() > 1024) {
    co_return ErrorResponse(
        MakeError(ErrorCode::kInvalidArgument, "password must be 8-1024 bytes"));
  }
  auto hash = co_await OnPool(ctx_.blocking, [&] {
    return auth::HashPassword(*password, password_params_);
  });
  if (!hash.ok()) co_return ErrorResponse(hash.error());
  storage::User u;
  u.user_id = NewUuidV4();
  u.username = *username;
  u.display_name = display && !display->empty() ? *display : *username;
  u.password_hash = *hash;
  u.status = "online";
  u.created_at = NowMs();
  // Never an admin: the role comes only from an operator (`parleyd admin grant`).
  auto created = co_await AwaitDone<Unit>(
      [&](auto done) { ctx_.auth_store.CreateUser(u, std::move(done)); });
  if (!created.ok()) co_return ErrorResponse(created.error());
  LogInfo("user signed up", {{"user_id", u.user_id}, {"remote", req.remote_address}});
  PublishAudit(ctx_.bus, {"signup", u.user_id, "", u.user_id, req.remote_address,
                          {{"username", u.username}, {"admin", u.is_admin}}});
  co_return JsonResponse(201, {{"user_id", u.user_id},
                               {"username", u.username},
                               {"display_name", u.display_name}});
}

AuthService::Awaitable AuthService::Login(HttpRequest& req) {
  auto body = ParseJsonObject(req.body);
  if (!body.ok()) co_return ErrorResponse(body.error());
  Fields f(*body);
  auto raw_name = f.Str("username", true, 256);
  auto password = f.Str("password", true, 4096);
  auto device_name = f.Str("device_name", false, 128);
  auto device_id = f.Uuid("device_id", false);
  if (!f.ok()) co_return ErrorResponse(f.error());
  auto username = NormalizeUsername(*raw_name);
  // Password guessing: bounded per address and per target account. The per-account bound does
  // not apply to a login that names one of the account's own devices (device_id: known only to
  // that device), so that guessing from many addresses cannot lock the owner out.
  int64_t wait = ctx_.limits.login_per_address->Allow(req.remote_address);
  if (!wait && username) {
    bool own_device = false;
    if (device_id) {
      own_device = co_await OnPool(ctx_.blocking, [&] {
        auto dev = ctx_.auth_store.GetDevice(*device_id);
        if (!dev.ok() || dev->revoked) return false;
        auto owner = ctx_.auth_store.GetUser(dev->user_id);
        return owner.ok() && owner->username == *username;
      });
    }
    if (!own_device) wait = ctx_.limits.login_per_username->Allow(*username);
  }
  if (wait) co_return ErrorResponse(RateLimited(wait));
  auto user = co_await OnPool(ctx_.blocking, [&]() -> Result<storage::User> {
    if (!username) return MakeError(ErrorCode::kNotFound, "no such user");
    return ctx_.auth_store.GetUserByUsername(*username);
  });
  if (!user.ok() && user.error().code != ErrorCode::kNotFound)
    co_return ErrorResponse(user.error());
  // Verify against a dummy hash when the user is unknown, so both failures take as long.
  std::string hash = user.ok() ? user->password_hash : dummy_hash_;
  bool match = co_await OnPool(ctx_.blocking, [&] {
    return auth::VerifyPassword(*password, hash);
  });
  if (!user.ok() || !match) {
    LogInfo("login failed", {{"remote", req.remote_address}});
    PublishAudit(ctx_.bus, {"login.failure", "", "", username.value_or(""), req.remote_address,
                            {{"known_user", user.ok()}}});
    co_return ErrorResponse(BadCredentials());
  }
  std::string did;
  if (device_id) {
    auto dev = co_await OnPool(ctx_.blocking, [&] {
      return ctx_.auth_store.GetDevice(*device_id);
    });
    if (!dev.ok() && dev.error().code != ErrorCode::kNotFound) co_return ErrorResponse(dev.error());
    if (!dev.ok() || dev->user_id != user->user_id || dev->revoked) {
      co_return ErrorResponse(
          MakeError(ErrorCode::kUnauthenticated, "unknown or revoked device_id"));
    }
    did = dev->device_id;
  } else {
    storage::Device d;
    d.device_id = NewUuidV4();
    d.user_id = user->user_id;
    d.device_name = device_name && !device_name->empty() ? *device_name : "device";
    d.created_at = NowMs();
    auto created = co_await AwaitDone<Unit>(
        [&](auto done) { ctx_.auth_store.CreateDevice(d, std::move(done)); });
    if (!created.ok()) co_return ErrorResponse(created.error());
    did = d.device_id;
  }
  auto tokens = co_await IssueTokens(user->user_id, did);
  if (!tokens.ok()) co_return ErrorResponse(tokens.error());
  (*tokens)["user_id"] = user->user_id;
  (*tokens)["device_id"] = did;
  LogInfo("login", {{"user_id", user->user_id}, {"device_id", did}, {"remote", req.remote_address}});
  PublishAudit(ctx_.bus, {"login.success", user->user_id, did, user->user_id, req.remote_address,
                          {{"new_device", !device_id.has_value()}}});
  co_return JsonResponse(200, *tokens);
}

AuthService::Awaitable AuthService::Refresh(HttpRequest& req) {
  auto body = ParseJsonObject(req.body);
  if (!body.ok()) co_return ErrorResponse(body.error());
  Fields f(*body);
  auto token = f.Str("refresh_token", true, 256);
  if (!f.ok()) co_return ErrorResponse(f.error());
  std::string next = Base64UrlEncode(RandomBytes(kRefreshTokenBytes));
  int64_t now = NowMs();
  storage::RefreshToken t{Sha256(next), "", "", now, now + ctx_.config.refresh_token_ttl_s * 1000};
  auto outcome = co_await AwaitDone<storage::RotateOutcome>([&](auto done) {
    ctx_.auth_store.RotateRefreshToken(Sha256(*token), std::move(t), now, std::move(done));
  });
  if (!outcome.ok()) co_return ErrorResponse(outcome.error());
  using Kind = storage::RotateOutcome::Kind;
  switch (outcome->kind) {
    case Kind::kRotated:
      break;
    case Kind::kReused: {
      // Whoever holds the device's access tokens (the thief or the owner) loses them too: the
      // tokens issued until now are refused and the WebSockets opened with them close, here and
      // (through the event) on every node. The owner logs in again.
      const int64_t before_s = NowMs() / 1000 + 1;
      RevokeSessions(outcome->device_id, before_s);
      ctx_.bus.Publish(events::topic::kAuth,
                       events::MakeEvent(events::type::kDeviceSessionsRevoked, outcome->user_id,
                                         {{"device_id", outcome->device_id},
                                          {"before_s", before_s}}));
      LogWarn("refresh token reuse: device sessions revoked",
              {{"device_id", outcome->device_id}, {"remote", req.remote_address}});
      PublishAudit(ctx_.bus, {"token.reuse", outcome->user_id, outcome->device_id,
                              outcome->device_id, req.remote_address, {}});
      co_return ErrorResponse(MakeError(ErrorCode::kUnauthenticated,
                                        "refresh token already used; sessions revoked"));
    }
    default:
      co_return ErrorResponse(
          MakeError(ErrorCode::kUnauthenticated, "invalid or expired refresh token"));
  }
  co_return JsonResponse(200, {{"access_token", AccessToken(outcome->user_id, outcome->device_id)},
                               {"refresh_token", next},
                               {"token_type", "Bearer"},
                               {"expires_in", ctx_.config.access_token_ttl_s}});
}

AuthService::Awaitable AuthService::Logout(HttpRequest& req) {
  const auto& p = *req.principal;
  auto revoked = co_await AwaitDone<Unit>(
      [&](auto done) { ctx_.auth_store.RevokeRefreshTokens(p.device_id, std::move(done)); });
  if (!revoked.ok()) co_return ErrorResponse(revoked.error());
  auto denied = co_await AwaitDone<Unit>(
      [&](auto done) { ctx_.auth_store.DenyAccessToken(p.jti, p.exp * 1000, std::move(done)); });
  if (!denied.ok()) co_return ErrorResponse(denied.error());
  {
    std::unique_lock lock(mu_);
    denied_jtis_.insert(p.jti);
  }
  for (const auto& cb : on_denied_) cb(p.user_id, p.jti);  // its WebSockets close
  // Until the token expires (a minute of clock skew on top).
  co_await ShareRevocation(false, p.jti, std::max<int64_t>(1, p.exp * 1000 - NowMs()) + 60'000);
  ctx_.bus.Publish(events::topic::kAuth,
                   events::MakeEvent(events::type::kAccessTokenDenied, p.user_id,
                                     {{"jti", p.jti}, {"expires_at", p.exp * 1000}}));
  PublishAudit(ctx_.bus, {"logout", p.user_id, p.device_id, p.device_id, req.remote_address, {}});
  co_return transport::EmptyResponse(204);
}

AuthService::Awaitable AuthService::GetUser(HttpRequest& req) {
  auto id = NormalizeUuid(req.path_params["user_id"]);
  if (!id) co_return ErrorResponse(MakeError(ErrorCode::kInvalidArgument, "user_id must be a UUID"));
  auto user = co_await OnPool(ctx_.blocking, [&] { return ctx_.auth_store.GetUser(*id); });
  if (!user.ok()) co_return ErrorResponse(user.error());
  co_return JsonResponse(200, UserToJson(*user));
}

AuthService::Awaitable AuthService::FindUser(HttpRequest& req) {
  const std::string* name = req.Query("username");
  if (!name) co_return ErrorResponse(MakeError(ErrorCode::kInvalidArgument, "username is required"));
  auto username = NormalizeUsername(*name);
  if (!username) co_return ErrorResponse(MakeError(ErrorCode::kNotFound, "no such user"));
  auto user = co_await OnPool(ctx_.blocking, [&] {
    return ctx_.auth_store.GetUserByUsername(*username);
  });
  if (!user.ok()) co_return ErrorResponse(user.error());
  co_return JsonResponse(200, UserToJson(*user));
}

AuthService::Awaitable AuthService::ListDevices(HttpRequest& req) {
  auto devices = co_await OnPool(ctx_.blocking, [&] {
    return ctx_.auth_store.ListDevices(req.principal->user_id);
  });
  if (!devices.ok()) co_return ErrorResponse(devices.error());
  boost::json::array out;
  for (const auto& d : *devices) {
    out.push_back({{"device_id", d.device_id},
                   {"device_name", d.device_name},
                   {"created_at", d.created_at},
                   {"last_seen_at", d.last_seen_at},
                   {"current", d.device_id == req.principal->device_id}});
  }
  co_return JsonResponse(200, {{"devices", out}});
}

AuthService::Awaitable AuthService::DeleteDevice(HttpRequest& req) {
  auto id = NormalizeUuid(req.path_params["device_id"]);
  if (!id) co_return ErrorResponse(MakeError(ErrorCode::kInvalidArgument, "device_id must be a UUID"));
  auto revoked = co_await AwaitDone<Unit>([&](auto done) {
    ctx_.auth_store.RevokeDevice(req.principal->user_id, *id, std::move(done));
  });
  if (!revoked.ok()) co_return ErrorResponse(revoked.error());
  {
    std::unique_lock lock(mu_);
    revoked_devices_.insert(*id);
  }
  // For as long as an access token issued before now can be valid (a minute of skew on top).
  co_await ShareRevocation(true, *id, (ctx_.config.access_token_ttl_s + 60) * 1000);
  for (const auto& cb : on_revoked_) cb(*id, Revoked::kDevice);
  ctx_.bus.Publish(events::topic::kAuth,
                   events::MakeEvent(events::type::kDeviceRevoked, req.principal->user_id,
                                     {{"user_id", req.principal->user_id}, {"device_id", *id}}));
  LogInfo("device revoked", {{"user_id", req.principal->user_id}, {"device_id", *id}});
  PublishAudit(ctx_.bus, {"device.revoked", req.principal->user_id, req.principal->device_id, *id,
                          req.remote_address, {}});
  co_return transport::EmptyResponse(204);
}

}  // namespace parley::services
