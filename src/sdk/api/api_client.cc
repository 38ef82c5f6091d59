// ApiClient: the call machinery, tokens and refresh, and the auth endpoints. The other endpoints
// are in api_endpoints.cc.
#include "sdk/api/api_client.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>

#include "common/encoding.h"
#include "sdk/api/api_errors.h"

namespace parley::sdk {

namespace json = boost::json;

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// iat and exp (seconds) of a JWT's payload, if readable. Not verified: only for scheduling.
std::pair<int64_t, int64_t> JwtTimes(const std::string& token) {
  size_t a = token.find('.');
  size_t b = a == std::string::npos ? a : token.find('.', a + 1);
  if (b == std::string::npos) return {0, 0};
  auto payload = Base64UrlDecode(std::string_view(token).substr(a + 1, b - a - 1));
  if (!payload) return {0, 0};
  boost::system::error_code ec;
  json::value v = json::parse(*payload, ec);
  if (ec || !v.is_object()) return {0, 0};
  return {JInt(v.get_object(), "iat"), JInt(v.get_object(), "exp")};
}

Tokens TokensFromJson(const json::object& o) {
  Tokens t{JStr(o, "access_token"), JStr(o, "refresh_token"), 0};
  int64_t expires_in = JInt(o, "expires_in");
  if (expires_in > 0) t.expires_at = NowMs() + expires_in * 1000;
  return t;
}

}  // namespace

Result<std::unique_ptr<ApiClient>> ApiClient::Create(ApiOptions options) {
  auto base = net::ParseBaseUrl(options.base_url);
  if (!base.ok()) return base.error();
  return std::unique_ptr<ApiClient>(new ApiClient(std::move(options), std::move(*base)));
}

ApiClient::ApiClient(ApiOptions options, net::BaseUrl base)
    : opts_(std::move(options)), http_(std::move(base), opts_.http) {}

void ApiClient::SetSession(const std::string& user_id, const std::string& device_id,
                           const Tokens& tokens) {
  {
    std::lock_guard lock(mu_);
    user_id_ = user_id;
    device_id_ = device_id;
  }
  AdoptTokens(tokens);
}

void ApiClient::ClearSession() {
  std::lock_guard lock(mu_);
  user_id_.clear();
  device_id_.clear();
  tokens_ = {};
  lifetime_ms_ = 0;
}

void ApiClient::SetTokenCallback(TokenCallback cb) {
  std::lock_guard lock(mu_);
  token_cb_ = std::move(cb);
}

Tokens ApiClient::tokens() const {
  std::lock_guard lock(mu_);
  return tokens_;
}
std::string ApiClient::user_id() const {
  std::lock_guard lock(mu_);
  return user_id_;
}
std::string ApiClient::device_id() const {
  std::lock_guard lock(mu_);
  return device_id_;
}

void ApiClient::AdoptTokens(const Tokens& t) {
  auto [iat, exp] = JwtTimes(t.access_token);
  std::lock_guard lock(mu_);
  tokens_ = t;
  if (tokens_.expires_at == 0 && exp > 0) tokens_.expires_at = exp * 1000;
  lifetime_ms_ = (iat > 0 && exp > iat) ? (exp - iat) * 1000 : 0;
}

Result<std::string> ApiClient::FreshAccessToken() {
  std::string token;
  int64_t expires_at = 0;
  {
    std::lock_guard lock(mu_);
    if (tokens_.access_token.empty() && tokens_.refresh_token.empty())
      return MakeError(ErrorCode::kUnauthenticated, "not logged in");
    token = tokens_.access_token;
    expires_at = tokens_.expires_at;
    int64_t margin = opts_.refresh_margin.count();
    if (lifetime_ms_ > 0) margin = std::min(margin, lifetime_ms_ / 5);
    if (!token.empty() && (expires_at == 0 || NowMs() < expires_at - margin)) return token;
  }
  auto fresh = RefreshAfterReject(token);
  // A proactive refresh that could not reach the server: the old token still works a while.
  if (!fresh.ok() && fresh.error().code == ErrorCode::kUnavailable && !token.empty() &&
      NowMs() < expires_at)
    return token;
  return fresh;
}

Result<std::string> ApiClient::RefreshAfterReject(const std::string& stale_access_token) {
  std::lock_guard refresh_lock(refresh_mu_);
  std::string refresh;
  {
    std::lock_guard lock(mu_);
    if (!tokens_.access_token.empty() && tokens_.access_token != stale_access_token)
      return tokens_.access_token;  // refreshed by another caller while we waited
    refresh = tokens_.refresh_token;
  }
  if (refresh.empty()) return MakeError(ErrorCode::kUnauthenticated, "not logged in");
  auto t = DoRefresh(refresh);
  if (!t.ok()) {
    if (t.error().code == ErrorCode::kUnauthenticated)
      return MakeError(ErrorCode::kUnauthenticated, "the session has ended; log in again");
    return t.error();
  }
  return t->access_token;
}

Result<Tokens> ApiClient::DoRefresh(const std::string& refresh_token) {
  // Called with refresh_mu_ held.
  auto r = CallObject("POST", "/v1/refresh-token", json::object{{"refresh_token", refresh_token}},
                      false);
  if (!r.ok()) return r.error();
  Tokens t = TokensFromJson(*r);
  if (t.access_token.empty() || t.refresh_token.empty())
    return MakeError(ErrorCode::kInternal, "refresh-token answered without tokens");
  AdoptTokens(t);
  TokenCallback cb;
  {
    std::lock_guard lock(mu_);
    cb = token_cb_;
    t = tokens_;
  }
  if (cb) cb(t);
  return t;
}

Result<net::HttpResponse> ApiClient::Send(net::HttpRequestSpec spec, bool authenticated) {
  const auto base_headers = spec.headers;
  for (int attempt = 0;; ++attempt) {
    std::string token;
    spec.headers = base_headers;
    if (authenticated) {
      auto t = FreshAccessToken();
      if (!t.ok()) return t.error();
      token = *t;
      spec.headers.emplace_back("Authorization", "Bearer " + token);
    }
    auto r = http_.Do(spec);
    if (!r.ok()) return r.error();
    if (authenticated && r->status == 401 && attempt == 0) {
      if (RefreshAfterReject(token).ok()) continue;
      return ErrorFromResponse(*r);
    }
    if (r->status / 100 != 2) return ErrorFromResponse(*r);
    return r;
  }
}

Result<json::value> ApiClient::Call(const std::string& method, const std::string& target,
                                    const std::optional<json::object>& body, bool authenticated) {
  net::HttpRequestSpec spec;
  spec.method = method;
  spec.target = target;
  if (body) {
    spec.body = json::serialize(*body);
    spec.headers.emplace_back("Content-Type", "application/json");
  }
  auto r = Send(std::move(spec), authenticated);
  if (!r.ok()) return r.error();
  if (r->body.empty()) return json::value(nullptr);
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  if (ec) return MakeError(ErrorCode::kInternal, "the server answered malformed JSON");
  return v;
}

Result<json::object> ApiClient::CallObject(const std::string& method, const std::string& target,
                                           const std::optional<json::object>& body,
                                           bool authenticated) {
  auto v = Call(method, target, body, authenticated);
  if (!v.ok()) return v.error();
  if (!v->is_object()) return MakeError(ErrorCode::kInternal, "expected a JSON object");
  return std::move(v->get_object());
}

// --- auth ---

Result<User> ApiClient::Signup(const std::string& username, const std::string& password,
                               const std::string& display_name) {
  json::object body{{"username", username}, {"password", password}};
  if (!display_name.empty()) body["display_name"] = display_name;
  auto r = CallObject("POST", "/v1/signup", body, false);
  if (!r.ok()) return r.error();
  return UserFromJson(*r);
}

Result<LoginResult> ApiClient::Login(const std::string& username, const std::string& password,
                                     const std::string& device_name,
                                     const std::string& device_id) {
  json::object body{{"username", username}, {"password", password}};
  if (!device_name.empty()) body["device_name"] = device_name;
  if (!device_id.empty()) body["device_id"] = device_id;
  auto r = CallObject("POST", "/v1/login", body, false);
  if (!r.ok()) return r.error();
  LoginResult out{JStr(*r, "user_id"), JStr(*r, "device_id"), TokensFromJson(*r)};
  SetSession(out.user_id, out.device_id, out.tokens);
  TokenCallback cb;
  {
    std::lock_guard lock(mu_);
    cb = token_cb_;
    out.tokens = tokens_;
  }
  if (cb) cb(out.tokens);
  return out;
}

Result<Tokens> ApiClient::RefreshTokens() {
  std::lock_guard refresh_lock(refresh_mu_);
  std::string refresh;
  {
    std::lock_guard lock(mu_);
    refresh = tokens_.refresh_token;
  }
  if (refresh.empty()) return MakeError(ErrorCode::kUnauthenticated, "not logged in");
  return DoRefresh(refresh);
}

Result<Unit> ApiClient::Logout() {
  auto r = Call("POST", "/v1/logout", std::nullopt);
  if (!r.ok()) return r.error();
  ClearSession();
  return Unit{};
}

}  // namespace parley::sdk
