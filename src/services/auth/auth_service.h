// Auth service: signup, login, refresh-token (rotation with reuse detection), logout, JWKS,
// users and devices. Also the Authenticator every other route and the WebSocket use.
//
// Revoked devices and logged-out access tokens are kept in memory (loaded at Start) so
// authenticating a request costs one Ed25519 verification and two hash lookups, no storage.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_set>

#include "services/auth/jwt.h"
#include "services/auth/password.h"
#include "services/context.h"
#include "transport/router.h"

namespace parley::services {

class AuthService {
 public:
  AuthService(Context& ctx, auth::JwtSigner signer);

  // Loads the revoked devices and denied tokens. kUnavailable if the store cannot be read.
  Status Start();
  void Register(transport::Router& router);

  // Thread-safe. kUnauthenticated unless the token is valid, unexpired, not logged out and its
  // device not revoked.
  Result<transport::Principal> Authenticate(std::string_view token) const;
  // Called (on an unspecified thread) when a device is revoked, to close its connections.
  void OnDeviceRevoked(std::function<void(const std::string& device_id)> callback) {
    on_revoked_.push_back(std::move(callback));
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

  std::unordered_set<std::string> revoked_devices_;  // guarded by mu_
  std::unordered_set<std::string> denied_jtis_;      // guarded by mu_
  std::vector<std::function<void(const std::string&)>> on_revoked_;
};

}  // namespace parley::services
