// Auth service: signup, login, refresh-token (rotation with reuse detection), logout, JWKS,
// users and devices. Also the Authenticator every other route and the WebSocket use.
//
// Revoked devices and logged-out access tokens are kept in memory (loaded at Start, kept up to
// date by the auth-events topic) so authenticating a request costs one Ed25519 verification and
// two hash lookups, no storage. In the scale-out profile the events reach other nodes a little
// later, so a shared RevocationList (Redis) is also written before a revocation returns and
// asked on every authentication: one EXISTS, bounded by a short timeout. If it cannot answer,
// the node's own memory decides (logged, at most once every 10 s).
#pragma once

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "services/auth/jwt.h"
#include "services/auth/password.h"
#include "services/context.h"
#include "transport/router.h"

namespace parley::services {

class AuthService {
 public:
  // `shared` (may be null: one node) must outlive the service.
  AuthService(Context& ctx, auth::JwtSigner signer, storage::RevocationList* shared = nullptr);

  // Loads the revoked devices and denied tokens. kUnavailable if the store cannot be read.
  Status Start();
  void Register(transport::Router& router);

  // Thread-safe. kUnauthenticated unless the token is valid, unexpired, not logged out, not
  // issued before its device's sessions were revoked (refresh-token reuse), and its device not
  // revoked.
  Result<transport::Principal> Authenticate(std::string_view token) const;
  // Before Start. Called (on an unspecified thread; also for what another node did) when
  // credentials end, so that connections opened with them close: a device revoked, or all its
  // sessions (refresh-token reuse)...
  enum class Revoked { kDevice, kSessions };
  void OnDeviceRevoked(
      std::function<void(const std::string& device_id, Revoked what)> callback) {
    on_revoked_.push_back(std::move(callback));
  }
  // ...or one access token logged out (`jti`, of `user_id`).
  void OnTokenDenied(std::function<void(const std::string& user_id, const std::string& jti)> cb) {
    on_denied_.push_back(std::move(cb));
  }
  const auth::JwtSigner& signer() const { return signer_; }

 private:
  using Awaitable = boost::asio::awaitable<transport::HttpResponse>;
  Awaitable Signup(transport::HttpRequest& req);
  Awaitable Login(transport::HttpRequest& req);
  Awaitable Refresh(transport::HttpRequest& req);
  Awaitable Logout(transport::HttpRequest& req);
  Awaitable GetUser(transport::HttpRequest& req);
  Awaitable FindUser(transport::HttpRequest& req);
  Awaitable ListDevices(transport::HttpRequest& req);
  Awaitable DeleteDevice(transport::HttpRequest& req);

  // A fresh access + refresh token pair for a device; stores the refresh token.
  boost::asio::awaitable<Result<boost::json::object>> IssueTokens(const std::string& user_id,
                                                                  const std::string& device_id);
  std::string AccessToken(const std::string& user_id, const std::string& device_id) const;

  Context& ctx_;
  const auth::JwtSigner signer_;
  const auth::PasswordParams password_params_;
  std::string dummy_hash_;  // verified against when the user does not exist: same timing
  mutable std::shared_mutex mu_;
  void OnAuthEvent(const events::Event& e);
  // Tells the other nodes at once (best effort: the event follows anyway).
  boost::asio::awaitable<void> ShareRevocation(bool device, std::string id, int64_t ttl_ms);

  std::unordered_set<std::string> revoked_devices_;  // guarded by mu_
  std::unordered_set<std::string> denied_jtis_;      // guarded by mu_
  // device_id -> tokens issued before this (seconds) are refused; guarded by mu_. Kept for as
  // long as such a token can live, in memory: a restart forgets it (the refresh tokens stay
  // revoked in the store).
  std::unordered_map<std::string, int64_t> sessions_revoked_before_;
  void RevokeSessions(const std::string& device_id, int64_t before_s);
  std::vector<std::function<void(const std::string&, Revoked)>> on_revoked_;
  std::vector<std::function<void(const std::string&, const std::string&)>> on_denied_;
  storage::RevocationList* const shared_;
  mutable std::atomic<int64_t> last_shared_warn_ms_{0};
};

}  // namespace parley::services
