#include "http_keepalive.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>

namespace parley::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

asio::awaitable<Result<HttpResponse>> KeepAliveHttp::Get(const std::string& target,
                                                         std::chrono::milliseconds timeout) {
  const bool reused = connected_;
  auto r = co_await Attempt(target, timeout);
  if (!r.ok() && reused) r = co_await Attempt(target, timeout);
  co_return r;
}

asio::awaitable<Result<HttpResponse>> KeepAliveHttp::Attempt(const std::string& target,
                                                             std::chrono::milliseconds timeout) {
  constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
  if (!connected_) {
    beast::error_code ignored;
    stream_.socket().close(ignored);
    buffer_.clear();
    stream_.expires_after(timeout);
    auto [ec] = co_await stream_.async_connect(ep_.address, kTok);
    if (ec) co_return Error{ExitCode::kServerUnreachable, "connect: " + ec.message()};
    stream_.socket().set_option(asio::ip::tcp::no_delay(true));
    connected_ = true;
    ++connects_;
  }
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, ep_.host_header());
  req.set(http::field::user_agent, "parley-bench");
  req.set(http::field::authorization, "Bearer " + token_);
  req.keep_alive(true);
  stream_.expires_after(timeout);
  auto [wec, wn] = co_await http::async_write(stream_, req, kTok);
  if (wec) {
    connected_ = false;
    co_return Error{ExitCode::kServerUnreachable, "GET " + target + ": write: " + wec.message()};
  }
  http::response<http::string_body> resp;
  auto [rec, rn] = co_await http::async_read(stream_, buffer_, resp, kTok);
  if (rec) {
    connected_ = false;
    co_return Error{ExitCode::kServerUnreachable, "GET " + target + ": read: " + rec.message()};
  }
  if (!resp.keep_alive()) connected_ = false;
  HttpResponse out;
  out.status = static_cast<int>(resp.result_int());
  out.body = std::move(resp.body());
  co_return out;
}

}  // namespace parley::bench
