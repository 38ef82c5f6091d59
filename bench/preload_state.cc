#include "preload_state.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <optional>
#include <sstream>

#include "http_client.h"

namespace parley::bench {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {
Result<HttpResponse> CallBlocking(const Endpoint& ep, const HttpRequest& req) {
  asio::io_context io;
  std::optional<Result<HttpResponse>> out;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { out = co_await HttpCall(ep, req); },
                 asio::detached);
  io.run();
  return *out;
}
}  // namespace

Status SavePreloadState(const PreloadState& s, const std::string& path) {
  json::array convs;
  for (const auto& c : s.conversation_ids) convs.emplace_back(c);
  json::object o{{"hub_username", s.hub_username}, {"hub_user_id", s.hub_user_id},
                 {"password", s.password},         {"conversation_ids", std::move(convs)},
                 {"messages", s.messages},         {"vocabulary", s.vocabulary},
                 {"words_per_message", s.words_per_message}, {"marker", s.marker}};
  std::ofstream f(path);
  f << json::serialize(o) << "\n";
  if (!f) return Error{ExitCode::kUsage, "--state: cannot write '" + path + "'"};
  return Ok();
}

Result<PreloadState> LoadPreloadState(const std::string& path) {
  std::ifstream f(path);
  if (!f) {
    return Error{ExitCode::kUsage, "--state: cannot read '" + path + "' (run `preload` first)"};
  }
  std::stringstream ss;
  ss << f.rdbuf();
  try {
    const json::object o = json::parse(ss.str()).as_object();
    PreloadState s;
    s.hub_username = json::value_to<std::string>(o.at("hub_username"));
    s.hub_user_id = json::value_to<std::string>(o.at("hub_user_id"));
    s.password = json::value_to<std::string>(o.at("password"));
    for (const auto& c : o.at("conversation_ids").as_array()) {
      s.conversation_ids.push_back(json::value_to<std::string>(c));
    }
    s.messages = json::value_to<uint64_t>(o.at("messages"));
    s.vocabulary = json::value_to<int>(o.at("vocabulary"));
    s.words_per_message = json::value_to<int>(o.at("words_per_message"));
    s.marker = json::value_to<std::string>(o.at("marker"));
    if (s.conversation_ids.empty()) throw std::runtime_error("no conversations");
    return s;
  } catch (const std::exception& e) {
    return Error{ExitCode::kUsage, "--state: '" + path + "' is not a preload state: " + e.what()};
  }
}

Result<std::string> LoginHub(const Endpoint& ep, const PreloadState& s) {
  HttpRequest login{"POST", "/v1/login"};
  login.body = json::serialize(json::object{
      {"username", s.hub_username}, {"password", s.password}, {"device_name", "parley-bench"}});
  auto r = CallBlocking(ep, login);
  if (!r.ok()) return r.error();
  if (r->status != 200) {
    return Error{ExitCode::kSetupFailed, DescribeHttpError(login, *r) +
                                             " (is this the server and data dir of the preload?)"};
  }
  boost::system::error_code ec;
  auto v = json::parse(r->body, ec);
  const auto* t = (!ec && v.is_object()) ? v.as_object().if_contains("access_token") : nullptr;
  if (!t || !t->is_string()) return Error{ExitCode::kSetupFailed, "login: no access_token"};
  return std::string(t->as_string());
}

Result<std::pair<int, std::string>> GetOnce(const Endpoint& ep, const std::string& target,
                                            const std::string& token) {
  HttpRequest req{"GET", target};
  req.bearer_token = token;
  auto r = CallBlocking(ep, req);
  if (!r.ok()) return r.error();
  return std::make_pair(r->status, std::move(r->body));
}

}  // namespace parley::bench
