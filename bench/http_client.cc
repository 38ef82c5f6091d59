#include "http_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>

namespace parley::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;

asio::awaitable<Result<HttpResponse>> HttpCall(const Endpoint& ep, HttpRequest req) {
  constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  const std::string what = req.method + " " + req.target + " at " + ep.host_header();

  stream.expires_after(req.timeout);
  auto [cec] = co_await stream.async_connect(ep.address, kTok);
  if (cec) {
    co_return Error{ExitCode::kServerUnreachable,
                    "cannot connect to " + ep.host_header() + ": " + cec.message() +
                        " (is parleyd running and listening there?)"};
  }

  http::request<http::string_body> r{http::string_to_verb(req.method), req.target, 11};
  r.set(http::field::host, ep.host_header());
  r.set(http::field::user_agent, "parley-bench");
  if (!req.bearer_token.empty()) r.set(http::field::authorization, "Bearer " + req.bearer_token);
  if (!req.body.empty()) {
    r.set(http::field::content_type, "application/json");
    r.body() = std::move(req.body);
  }
  r.prepare_payload();

  stream.expires_after(req.timeout);
  auto [wec, wn] = co_await http::async_write(stream, r, kTok);
  if (wec) co_return Error{ExitCode::kServerUnreachable, what + ": write failed: " + wec.message()};

  beast::flat_buffer buffer;
  http::response<http::string_body> resp;
  auto [rec, rn] = co_await http::async_read(stream, buffer, resp, kTok);
  if (rec) {
    co_return Error{ExitCode::kServerUnreachable,
                    what + ": no valid HTTP response: " + rec.message()};
  }
  beast::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);

  HttpResponse out;
  out.status = static_cast<int>(resp.result_int());
  out.body = std::move(resp.body());
  if (auto it = resp.find(http::field::retry_after); it != resp.end()) {
    out.retry_after = std::string(it->value());
  }
  co_return out;
}

std::string DescribeHttpError(const HttpRequest& req, const HttpResponse& resp) {
  std::string out = req.method + " " + req.target + " -> " + std::to_string(resp.status);
  boost::system::error_code ec;
  auto v = json::parse(resp.body, ec);
  const json::object* err = nullptr;
  if (!ec && v.is_object()) {
    if (auto* e = v.as_object().if_contains("error"); e && e->is_object()) err = &e->as_object();
  }
  if (err) {
    if (auto* c = err->if_contains("code"); c && c->is_string()) out += " " + std::string(c->as_string());
    if (auto* m = err->if_contains("message"); m && m->is_string()) {
      out += ": " + std::string(m->as_string());
    }
  } else if (!resp.body.empty()) {
    out += ": " + resp.body.substr(0, 200);
  }
  return out;
}

}  // namespace parley::bench
