#include "accounts.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <iostream>
#include <random>

#include "clock.h"
#include "http_client.h"

namespace parley::bench {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr int kMaxRetries = 8;

std::string RunTag() {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%06x", static_cast<unsigned>(rd() & 0xFFFFFF));
  return buf;
}

std::string StringField(const json::value& v, const char* key) {
  if (!v.is_object()) return {};
  const auto* f = v.as_object().if_contains(key);
  return f && f->is_string() ? std::string(f->as_string()) : std::string();
}

// Calls `req`, retrying while the server answers 429; any other status is returned.
asio::awaitable<Result<HttpResponse>> CallWithRetry(const Endpoint& ep, const HttpRequest& req) {
  for (int attempt = 0;; ++attempt) {
    auto resp = co_await HttpCall(ep, req);
    if (!resp.ok() || resp->status != 429 || attempt == kMaxRetries) co_return resp;
    static bool hinted = false;  // setup runs on one thread
    if (!hinted) {
      hinted = true;
      std::cerr << "\nparley-bench: note: the server rate-limits " << req.target
                << " (429); waiting as Retry-After says. For benchmarks start parleyd with "
                   "--rate-signup-per-min 0 --rate-login-per-min 0 --rate-send-per-min 0\n";
    }
    int wait_s = 1;
    try {
      if (!resp->retry_after.empty()) wait_s = std::clamp(std::stoi(resp->retry_after), 1, 10);
    } catch (const std::exception&) {
    }
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::seconds(wait_s));
    co_await t.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<Status> CreateOne(const Endpoint& ep, Account& a, const std::string& password) {
  HttpRequest signup{"POST", "/v1/signup"};
  signup.body = json::serialize(json::object{
      {"username", a.username}, {"password", password}, {"display_name", a.username}});
  auto s = co_await CallWithRetry(ep, signup);
  if (!s.ok()) co_return s.error();
  if (s->status != 201) {
    co_return Error{ExitCode::kSetupFailed, "signup failed: " + DescribeHttpError(signup, *s)};
  }
  boost::system::error_code sec;
  a.user_id = StringField(json::parse(s->body, sec), "user_id");

  HttpRequest login{"POST", "/v1/login"};
  login.body = json::serialize(json::object{
      {"username", a.username}, {"password", password}, {"device_name", "parley-bench"}});
  auto l = co_await CallWithRetry(ep, login);
  if (!l.ok()) co_return l.error();
  if (l->status != 200) {
    co_return Error{ExitCode::kSetupFailed, "login failed: " + DescribeHttpError(login, *l)};
  }
  boost::system::error_code ec;
  auto v = json::parse(l->body, ec);
  if (ec) co_return Error{ExitCode::kSetupFailed, "login: response is not JSON: " + l->body};
  a.access_token = StringField(v, "access_token");
  a.device_id = StringField(v, "device_id");
  if (a.user_id.empty()) a.user_id = StringField(v, "user_id");
  if (a.access_token.empty() || a.user_id.empty()) {
    co_return Error{ExitCode::kSetupFailed,
                    "login: response lacks user_id or access_token (docs/api.md): " + l->body};
  }
  co_return Ok();
}

}  // namespace

Status CheckServer(const Endpoint& ep) {
  asio::io_context io;
  std::optional<Result<HttpResponse>> out;
  HttpRequest req{"GET", "/healthz"};
  req.timeout = std::chrono::seconds(5);
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { out = co_await HttpCall(ep, req); },
                 asio::detached);
  io.run();
  if (!out->ok()) return out->error();
  if ((*out)->status != 200) {
    std::cerr << "parley-bench: note: GET /healthz answered " << (*out)->status
              << "; continuing\n";
  }
  return Ok();
}

Result<std::vector<Account>> CreateAccounts(const Endpoint& ep, int count, int concurrency,
                                            const std::string& password) {
  const std::string tag = RunTag();
  std::vector<Account> accounts(count);
  for (int i = 0; i < count; ++i) {
    char name[40];
    std::snprintf(name, sizeof name, "pb%s_%05d", tag.c_str(), i);
    accounts[i].username = name;
  }

  asio::io_context io;
  int next = 0;
  int done = 0;
  std::optional<Error> failure;
  const int64_t started = NowNs();
  auto worker = [&]() -> asio::awaitable<void> {
    while (!failure && next < count) {
      Account& a = accounts[next++];
      Status st = co_await CreateOne(ep, a, password);
      if (!st.ok() && !failure) failure = st.error();
      if (++done % 50 == 0 || done == count) {
        std::cerr << "\rparley-bench: accounts " << done << "/" << count << std::flush;
      }
    }
  };
  for (int i = 0; i < std::max(1, concurrency); ++i) asio::co_spawn(io, worker, asio::detached);
  io.run();
  std::cerr << "\n";
  if (failure) return *failure;
  std::cerr << "parley-bench: created " << count << " accounts in "
            << (NowNs() - started) / kNsPerMs << " ms (tag pb" << tag << ")\n";
  return accounts;
}

Status SaveAccounts(const std::vector<Account>& accounts, const std::string& path) {
  std::ofstream f(path);
  for (const auto& a : accounts) {
    f << a.username << '\t' << a.user_id << '\t' << a.device_id << '\t' << a.access_token << '\n';
  }
  f.flush();
  if (!f) return Error{ExitCode::kUsage, "cannot write accounts to '" + path + "'"};
  return Ok();
}

Result<std::vector<Account>> LoadAccounts(const std::string& path) {
  std::ifstream f(path);
  if (!f) return Error{ExitCode::kUsage, "cannot read accounts from '" + path + "'"};
  std::vector<Account> out;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    std::istringstream fields(line);
    Account a;
    std::getline(fields, a.username, '\t');
    std::getline(fields, a.user_id, '\t');
    std::getline(fields, a.device_id, '\t');
    std::getline(fields, a.access_token, '\t');
    if (a.access_token.empty()) {
      return Error{ExitCode::kUsage, "'" + path + "': a line lacks its access token"};
    }
    out.push_back(std::move(a));
  }
  if (out.empty()) return Error{ExitCode::kUsage, "'" + path + "' holds no accounts"};
  return out;
}

}  // namespace parley::bench
