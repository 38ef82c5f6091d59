#include "transport/http_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/url.hpp>

#include "common/log.h"

namespace parley::transport {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct HttpServer::Impl {
  HttpServerOptions options;
  const Router& router;
  HttpStats& stats;
  std::string upgrade_path;
  UpgradeHandler upgrade;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<std::thread> threads;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;

  asio::awaitable<void> Accept(tcp::acceptor& acceptor);
  asio::awaitable<void> Serve(beast::tcp_stream stream, std::string remote);
  asio::awaitable<void> ServeLoop(beast::tcp_stream& stream, const std::string& remote,
                                  bool* upgraded);
};

namespace {

HttpRequest ToRequest(http::request<http::string_body>& req, const std::string& remote,
                      bool* ok) {
  HttpRequest out;
  out.method = std::string(req.method_string());
  out.remote_address = remote;
  auto target = boost::urls::parse_origin_form(req.target());
  if (!target) {
    *ok = false;
    return out;
  }
  out.path = target->path();
  for (auto param : target->params()) out.query[param.key] = param.value;
  for (const auto& field : req) {
    std::string name(field.name_string());
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    out.headers[name] = std::string(field.value());
  }
  out.body = std::move(req.body());
  *ok = true;
  return out;
}

http::response<http::string_body> ToBeast(HttpResponse r, unsigned version, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "parleyd");
  if (!r.content_type.empty()) res.set(http::field::content_type, r.content_type);
  res.set("X-Content-Type-Options", "nosniff");
  res.set(http::field::cache_control, "no-store");
  for (auto& [k, v] : r.headers) res.set(k, v);
  res.body() = std::move(r.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

}  // namespace

HttpServer::HttpServer(HttpServerOptions options, const Router& router)
    : impl_(new Impl{std::move(options), router, stats_, {}, {}, {}, {}, {}}) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::SetUpgradeHandler(std::string path, UpgradeHandler handler) {
  impl_->upgrade_path = std::move(path);
  impl_->upgrade = std::move(handler);
}

Result<uint16_t> HttpServer::Start() {
  int n = std::max(1, impl_->options.threads);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(impl_->options.host, ec);
  if (ec) return MakeError(ErrorCode::kInvalidArgument, "bad listen address: " + impl_->options.host);
  uint16_t port = impl_->options.port;
  for (int i = 0; i < n; ++i) {
    auto ctx = std::make_unique<asio::io_context>(1);
    auto acc = std::make_unique<tcp::acceptor>(*ctx);
    tcp::endpoint ep(address, port);
    acc->open(ep.protocol(), ec);
    if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) {
      int one = 1;
      if (::setsockopt(acc->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        ec = boost::system::error_code(errno, boost::system::system_category());
    }
    if (!ec) acc->bind(ep, ec);
    if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return MakeError(ErrorCode::kUnavailable, "cannot listen on " + impl_->options.host + ":" +
                                                    std::to_string(port) + ": " + ec.message());
    }
    port = acc->local_endpoint().port();  // the others share the port the first one got
    impl_->acceptors.push_back(std::move(acc));
    contexts_.push_back(std::move(ctx));
  }
  for (size_t i = 0; i < contexts_.size(); ++i) {
    impl_->guards.push_back(asio::make_work_guard(*contexts_[i]));
    asio::co_spawn(*contexts_[i], impl_->Accept(*impl_->acceptors[i]), asio::detached);
    impl_->threads.emplace_back([ctx = contexts_[i].get()] {
      while (true) {
        try {
          ctx->run();
          return;
        } catch (const std::exception& e) {
          LogError("I/O thread caught an exception", {{"error", e.what()}});
        }
      }
    });
  }
  return port;
}

void HttpServer::StopAccepting() {
  for (size_t i = 0; i < impl_->acceptors.size(); ++i) {
    asio::post(*contexts_[i], [acc = impl_->acceptors[i].get()] {
      boost::system::error_code ec;
      acc->close(ec);
    });
  }
}

void HttpServer::Stop() {
  if (!impl_) return;
  impl_->guards.clear();
  for (auto& c : contexts_) c->stop();
  for (auto& t : impl_->threads)
    if (t.joinable()) t.join();
  impl_->threads.clear();
}

asio::awaitable<void> HttpServer::Impl::Accept(tcp::acceptor& acceptor) {
  while (acceptor.is_open()) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      // Out of descriptors and the like: back off briefly rather than spin.
      LogWarn("accept failed", {{"error", ec.message()}});
      asio::steady_timer t(acceptor.get_executor(), std::chrono::milliseconds(50));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    std::string remote;
    auto ep = socket.remote_endpoint(ec);
    if (!ec) remote = ep.address().to_string();
    asio::co_spawn(acceptor.get_executor(), Serve(beast::tcp_stream(std::move(socket)), remote),
                   asio::detached);
  }
}

asio::awaitable<void> HttpServer::Impl::Serve(beast::tcp_stream stream, std::string remote) {
  stats.open_connections.fetch_add(1, std::memory_order_relaxed);
  bool upgraded = false;
  try {
    co_await ServeLoop(stream, remote, &upgraded);
  } catch (const std::exception& e) {
    LogError("connection failed", {{"error", e.what()}});
  }
  stats.open_connections.fetch_sub(1, std::memory_order_relaxed);
  if (!upgraded) {
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }
}

asio::awaitable<void> HttpServer::Impl::ServeLoop(beast::tcp_stream& stream,
                                                  const std::string& remote, bool* upgraded) {
  beast::flat_buffer buffer;
  while (true) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(options.max_body_bytes);
    stream.expires_after(std::chrono::milliseconds(options.request_timeout_ms));
    auto [ec, n] = co_await http::async_read(stream, buffer, parser,
                                            asio::as_tuple(asio::use_awaitable));
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == beast::error::timeout || ec == asio::error::connection_reset) {
      co_return;
    }
    if (ec) {
      Error err = ec == http::error::body_limit
                      ? MakeError(ErrorCode::kPayloadTooLarge, "request body too large")
                      : MakeError(ErrorCode::kInvalidArgument, "malformed HTTP request");
      stats.responses_4xx.fetch_add(1, std::memory_order_relaxed);
      auto res = ToBeast(ErrorResponse(err), 11, false);
      stream.expires_after(std::chrono::seconds(5));
      co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
      co_return;
    }
    auto req = parser.release();
    stats.requests.fetch_add(1, std::memory_order_relaxed);
    if (upgrade && beast::websocket::is_upgrade(req)) {
      auto target = boost::urls::parse_origin_form(req.target());
      if (target && target->path() == upgrade_path) {
        stream.expires_never();
        *upgraded = true;
        upgrade(std::move(stream), std::move(req), remote);
        co_return;
      }
    }
    bool keep_alive = req.keep_alive();
    unsigned version = req.version();
    bool ok = false;
    HttpRequest hreq = ToRequest(req, remote, &ok);
    // Not a ternary: GCC 12 miscompiles co_await inside a conditional expression.
    HttpResponse hres;
    if (ok) {
      hres = co_await router.Dispatch(hreq);
    } else {
      hres = ErrorResponse(MakeError(ErrorCode::kInvalidArgument, "bad request target"));
    }
    if (hres.status >= 500) {
      stats.responses_5xx.fetch_add(1, std::memory_order_relaxed);
    } else if (hres.status >= 400) {
      stats.responses_4xx.fetch_add(1, std::memory_order_relaxed);
    }
    auto res = ToBeast(std::move(hres), version, keep_alive);
    auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
    if (wec || !keep_alive) co_return;
  }
}

}  // namespace parley::transport
