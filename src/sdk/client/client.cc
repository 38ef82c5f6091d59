// Client: opening a profile, the account (signup, login, logout) and the E2EE engine's lifetime.
#include "sdk/client/client.h"

#include "common/ids.h"
#include "sdk/client/client_profile.h"

namespace parley::sdk {

Result<std::unique_ptr<Client>> Client::Open(ClientOptions options) {
  std::unique_ptr<Client> c(new Client());
  c->opts_ = std::move(options);
  c->profile_dir_ = c->opts_.profile_dir;
  PARLEY_TRY(EnsurePrivateDir(c->profile_dir_));
  auto store = LocalStore::Open(c->profile_dir_ + "/client.db");
  if (!store.ok()) return store.error();
  c->store_ = std::move(*store);
  auto account = c->store_->GetAccount();
  if (!account.ok()) return account.error();

  // The server: given > remembered in the profile > the default.
  c->server_url_ = c->opts_.server_url;
  if (c->server_url_.empty() && *account) c->server_url_ = (*account)->server_url;
  if (c->server_url_.empty()) {
    auto remembered = c->store_->GetMeta("server_url");
    if (remembered.ok() && *remembered) c->server_url_ = **remembered;
  }
  if (c->server_url_.empty()) c->server_url_ = kDefaultServerUrl;
  while (!c->server_url_.empty() && c->server_url_.back() == '/') c->server_url_.pop_back();
  PARLEY_TRY(c->store_->SetMeta("server_url", c->server_url_));

  auto api = ApiClient::Create(ApiOptions{c->server_url_, {}, std::chrono::milliseconds(60'000)});
  if (!api.ok()) return api.error();
  c->api_ = std::move(*api);
  LocalStore* st = c->store_.get();
  c->api_->SetTokenCallback([st](const Tokens& t) {
    (void)st->UpdateTokens(t.access_token, t.refresh_token, t.expires_at);
  });
  c->directory_ = std::make_unique<HttpKeyDirectory>(*c->api_);
  c->members_ = std::make_unique<ApiConversationMembers>(*c->api_, *c->store_);

  // Resume the stored session, if it was made against this server.
  if (*account && !(*account)->refresh_token.empty() &&
      (*account)->server_url == c->server_url_) {
    const Account& a = **account;
    c->api_->SetSession(a.user_id, a.device_id,
                        Tokens{a.access_token, a.refresh_token, a.access_expires_at});
  }
  return c;
}

Client::~Client() { StopLive(); }

void Client::SetEventHandler(EventHandler handler) {
  std::lock_guard lock(handler_mu_);
  handler_ = std::move(handler);
}

void Client::Dispatch(const Events& ev) {
  if (ev.empty()) return;
  EventHandler h;
  {
    std::lock_guard lock(handler_mu_);
    h = handler_;
  }
  if (!h) return;
  for (const auto& e : ev) h(e);
}

Result<Unit> Client::RequireSession() {
  if (api_->user_id().empty() || api_->tokens().refresh_token.empty())
    return MakeError(ErrorCode::kUnauthenticated, "not logged in (run `parley login USER`)");
  return Unit{};
}

Result<e2ee::Engine*> Client::EngineLocked() {
  PARLEY_TRY(RequireSession());
  if (!engine_) {
    auto engine = std::make_unique<e2ee::Engine>(*store_, *directory_, *members_,
                                                 api_->user_id(), api_->device_id(),
                                                 opts_.engine);
    PARLEY_TRY(engine->Bootstrap());
    engine_ = std::move(engine);
  }
  return engine_.get();
}

Result<Unit> Client::AdoptLogin(const LoginResult& login, const std::string& username) {
  Account a;
  a.server_url = server_url_;
  a.user_id = login.user_id;
  a.username = username;
  a.device_id = login.device_id;
  a.access_token = login.tokens.access_token;
  a.refresh_token = login.tokens.refresh_token;
  a.access_expires_at = login.tokens.expires_at;
  PARLEY_TRY(store_->SaveAccount(a));
  PARLEY_TRY(store_->UpsertContact(Contact{a.user_id, username, username}));
  std::lock_guard lock(engine_mu_);
  engine_.reset();
  auto engine = EngineLocked();  // bootstrap: create and publish this device's keys
  if (!engine.ok()) return engine.error();
  return Unit{};
}

Result<User> Client::Signup(const std::string& username, const std::string& password,
                            const std::string& display_name) {
  auto stored = store_->GetAccount();
  if (!stored.ok()) return stored.error();
  if (*stored && !(*stored)->user_id.empty())
    return MakeError(ErrorCode::kConflict, "this profile already holds the account of " +
                                               (*stored)->username + "; use another --profile");
  auto user = api_->Signup(username, password, display_name);
  if (!user.ok()) return user.error();
  auto login = api_->Login(username, password, opts_.device_name);
  if (!login.ok()) return login.error();
  PARLEY_TRY(AdoptLogin(*login, user->username));
  return user;
}

Result<Account> Client::Login(const std::string& username, const std::string& password) {
  auto stored = store_->GetAccount();
  if (!stored.ok()) return stored.error();
  std::string device_id;
  if (*stored && !(*stored)->user_id.empty()) {
    const Account& a = **stored;
    bool same_user = a.username == username || a.user_id == username;
    if (!same_user || a.server_url != server_url_)
      return MakeError(ErrorCode::kConflict,
                       "this profile holds the device of " + a.username + " on " + a.server_url +
                           "; use another --profile");
    device_id = a.device_id;
  }
  auto login = api_->Login(username, password, opts_.device_name, device_id);
  if (!login.ok()) return login.error();
  std::string name = username;
  if (auto u = api_->GetUser(login->user_id); u.ok()) name = u->username;
  PARLEY_TRY(AdoptLogin(*login, name));
  return WhoAmI();
}

Result<Unit> Client::Logout() {
  StopLive();
  auto account = store_->GetAccount();
  if (!account.ok()) return account.error();
  if (!*account || (*account)->refresh_token.empty())
    return MakeError(ErrorCode::kUnauthenticated, "not logged in");
  (void)api_->Logout();  // best effort: the local tokens go either way
  api_->ClearSession();
  PARLEY_TRY(store_->UpdateTokens("", "", 0));
  std::lock_guard lock(engine_mu_);
  engine_.reset();
  return Unit{};
}

Result<Account> Client::WhoAmI() {
  auto account = store_->GetAccount();
  if (!account.ok()) return account.error();
  if (!*account || (*account)->refresh_token.empty())
    return MakeError(ErrorCode::kUnauthenticated, "not logged in (run `parley login USER`)");
  Account a = **account;
  a.access_token.clear();
  a.refresh_token.clear();
  return a;
}

}  // namespace parley::sdk
