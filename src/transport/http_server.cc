#include "transport/http_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/url.hpp>

#include <algorithm>
#include <span>
#include <vector>

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
  std::atomic<bool> draining{false};  // set by StopAccepting: answers close their connection

  asio::awaitable<void> Accept(tcp::acceptor& acceptor);
  asio::awaitable<void> Serve(beast::tcp_stream stream, std::string remote);
  asio::awaitable<void> ServeLoop(beast::tcp_stream& stream, const std::string& remote,
                                  bool* upgraded);
  // One request of each kind, its header already read. Both return whether to keep the
  // connection for another request.
  asio::awaitable<bool> ServeBuffered(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                      http::request_parser<http::empty_body>&& header,
                                      const std::string& remote, bool* upgraded);
  asio::awaitable<bool> ServeStreaming(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                       http::request_parser<http::empty_body>&& header,
                                       const std::string& remote, uint64_t limit);
  asio::awaitable<HttpResponse> Dispatch(HttpRequest& req, bool target_ok);
};

namespace {

// The request line and headers as handlers see them. *ok is false for a bad request target.
// The client's address: the peer's, or, when the peer is a trusted proxy, the last address of its
// X-Forwarded-For (the one that proxy appended); a malformed header leaves the peer's.
std::string ClientAddress(const http::request_header<>& req, const std::string& remote,
                          const std::vector<std::string>& trusted) {
  if (trusted.empty() || std::find(trusted.begin(), trusted.end(), remote) == trusted.end())
    return remote;
  auto it = req.find("x-forwarded-for");
  if (it == req.end()) return remote;
  std::string_view v = it->value();
  size_t comma = v.rfind(',');
  std::string_view last = comma == std::string_view::npos ? v : v.substr(comma + 1);
  while (!last.empty() && (last.front() == ' ' || last.front() == '\t')) last.remove_prefix(1);
  while (!last.empty() && (last.back() == ' ' || last.back() == '\t')) last.remove_suffix(1);
  if (last.empty() || last.size() > 45) return remote;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(std::string(last), ec);
  return ec ? remote : address.to_string();
}

HttpRequest ToRequest(const http::request_header<>& req, const std::string& remote,
                      const std::vector<std::string>& trusted, bool* ok) {
  HttpRequest out;
  out.method = std::string(req.method_string());
  out.remote_address = ClientAddress(req, remote, trusted);
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
  *ok = true;
  return out;
}

template <typename Body>
void SetHeaders(http::response<Body>& res, HttpResponse& r, bool keep_alive) {
  res.set(http::field::server, "parleyd");
  if (!r.content_type.empty()) res.set(http::field::content_type, r.content_type);
  res.set("X-Content-Type-Options", "nosniff");
  res.set(http::field::cache_control, "no-store");
  for (auto& [k, v] : r.headers) res.set(k, v);
  res.keep_alive(keep_alive);
}

http::response<http::string_body> ToBeast(HttpResponse r, unsigned version, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  SetHeaders(res, r, keep_alive);
  res.body() = std::move(r.body);
  res.prepare_payload();
  return res;
}

// Reading stopped because the peer went away or idled: close without answering.
bool QuietEnd(const boost::system::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == beast::error::timeout || ec == asio::error::connection_reset;
}

asio::awaitable<void> WriteErrorAndClose(beast::tcp_stream& stream, const Error& err,
                                         HttpStats& stats) {
  stats.responses_4xx.fetch_add(1, std::memory_order_relaxed);
  auto res = ToBeast(ErrorResponse(err), 11, false);
  stream.expires_after(std::chrono::seconds(5));
  co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
}

// Writes a response whose body comes from r.body_source, chunk by chunk, each write under its
// own timeout. false if it could not be written whole (the connection must then be closed).
// (Coroutines here take references, never non-trivial values: see common/async.h on GCC 12.)
asio::awaitable<bool> WriteStreamed(beast::tcp_stream& stream, HttpResponse& r, unsigned version,
                                    bool keep_alive, int timeout_ms) {
  constexpr size_t kChunk = 64 * 1024;
  http::response<http::buffer_body> res{static_cast<http::status>(r.status), version};
  SetHeaders(res, r, keep_alive);
  res.content_length(r.body_size);
  res.body().data = nullptr;
  res.body().more = true;
  http::response_serializer<http::buffer_body> sr{res};
  stream.expires_after(std::chrono::milliseconds(timeout_ms));
  auto [hec, hn] = co_await http::async_write_header(stream, sr, asio::as_tuple(asio::use_awaitable));
  if (hec) co_return false;
  std::vector<char> buf(kChunk);
  uint64_t left = r.body_size;
  while (left > 0) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
    auto got = co_await r.body_source->Read(std::span<char>(buf.data(), want));
    if (!got.ok() || *got == 0 || *got > want) co_return false;
    left -= *got;
    res.body().data = buf.data();
    res.body().size = *got;
    res.body().more = true;
    stream.expires_after(std::chrono::milliseconds(timeout_ms));
    auto [wec, wn] = co_await http::async_write(stream, sr, asio::as_tuple(asio::use_awaitable));
    if (wec && wec != http::error::need_buffer) co_return false;
  }
  res.body().data = nullptr;
  res.body().size = 0;
  res.body().more = false;
  auto [fec, fn] = co_await http::async_write(stream, sr, asio::as_tuple(asio::use_awaitable));
  co_return !fec && sr.is_done();
}

asio::awaitable<bool> WriteResponse(beast::tcp_stream& stream, HttpResponse& r, unsigned version,
                                    bool keep_alive, int timeout_ms) {
  if (r.body_source) co_return co_await WriteStreamed(stream, r, version, keep_alive, timeout_ms);
  auto res = ToBeast(std::move(r), version, keep_alive);
  auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
  co_return !wec;
}

// After answering a request whose body was not read to the end: stop sending, then read and
// drop what the client is still sending, briefly and boundedly, so that closing does not reset
// the connection (and destroy the answer) before the client has read it.
asio::awaitable<void> LingeringClose(beast::tcp_stream& stream) {
  boost::system::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  std::vector<char> sink(16 * 1024);
  size_t total = 0;
  stream.expires_after(std::chrono::seconds(2));
  while (total < (8u << 20)) {
    auto [rec, n] = co_await stream.async_read_some(asio::buffer(sink),
                                                    asio::as_tuple(asio::use_awaitable));
    if (rec) break;
    total += n;
  }
}

// The BodyReader of a streaming route: reads the body with a buffer_body parser straight into
// the handler's buffer. Sends "100 Continue" first if the client asked for it. Each read must
// make progress within the request timeout, and, past that first timeout, the body must average
// at least kMinBodyBytesPerS: a client trickling a few bytes per timeout cannot hold the
// connection (and the upload's slot) for long; and the whole body must arrive within
// `deadline_ms` of the headers, however steadily it comes.
class StreamingBody final : public BodyReader {
 public:
  static constexpr uint64_t kMinBodyBytesPerS = 1024;

  StreamingBody(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                http::request_parser<http::buffer_body>& parser, int timeout_ms,
                int64_t deadline_ms)
      : stream_(stream), buffer_(buffer), parser_(parser), timeout_ms_(timeout_ms),
        deadline_ms_(deadline_ms), started_(std::chrono::steady_clock::now()) {
    auto it = parser_.get().find(http::field::expect);
    expect_continue_ = it != parser_.get().end() && beast::iequals(it->value(), "100-continue");
  }

  asio::awaitable<Result<size_t>> Read(std::span<char> out) override {
    if (error_) co_return *error_;
    if (parser_.is_done()) co_return size_t{0};
    if (out.empty()) co_return MakeError(ErrorCode::kInternal, "empty read buffer");
    if (expect_continue_) {
      expect_continue_ = false;
      http::response<http::empty_body> cont{http::status::continue_, 11};
      stream_.expires_after(std::chrono::milliseconds(timeout_ms_));
      auto [cec, cn] = co_await http::async_write(stream_, cont, asio::as_tuple(asio::use_awaitable));
      if (cec) co_return Fail(MakeError(ErrorCode::kInvalidArgument, "connection lost"));
    }
    while (true) {
      // Checked between reads, so that the client gets the answer (a client that stalls
      // instead is closed by the per-read timeout).
      if (ElapsedMs() >= deadline_ms_) co_return Fail(PastDeadline());
      parser_.get().body().data = out.data();
      parser_.get().body().size = out.size();
      stream_.expires_after(std::chrono::milliseconds(timeout_ms_));
      auto [ec, n] = co_await http::async_read_some(stream_, buffer_, parser_,
                                                    asio::as_tuple(asio::use_awaitable));
      size_t got = out.size() - parser_.get().body().size;
      parser_.get().body().data = nullptr;
      if (ec == http::error::need_buffer) ec = {};
      if (ec == http::error::body_limit) {
        co_return Fail(MakeError(ErrorCode::kPayloadTooLarge, "request body too large"));
      }
      if (ec && QuietEnd(ec)) {
        co_return Fail(MakeError(ErrorCode::kInvalidArgument, "request body ended early or stalled"));
      }
      if (ec) co_return Fail(MakeError(ErrorCode::kInvalidArgument, "malformed request body"));
      received_ += got;
      const int64_t elapsed_ms = ElapsedMs();
      if (!parser_.is_done() && elapsed_ms >= deadline_ms_) co_return Fail(PastDeadline());
      if (!parser_.is_done() && elapsed_ms > timeout_ms_ &&
          received_ * 1000 < kMinBodyBytesPerS * static_cast<uint64_t>(elapsed_ms)) {
        co_return Fail(MakeError(ErrorCode::kInvalidArgument,
                                 "request body too slow (under 1 KiB/s on average)"));
      }
      if (got > 0 || parser_.is_done()) co_return got;
    }
  }

  std::optional<uint64_t> declared_length() const override {
    auto n = parser_.content_length();
    if (!n) return std::nullopt;
    return *n;
  }
  bool complete() const { return !error_ && parser_.is_done(); }

 private:
  Error Fail(Error e) {
    error_ = e;
    return e;
  }
  Error PastDeadline() const {
    return MakeError(ErrorCode::kInvalidArgument,
                     "request body took longer than " + std::to_string(deadline_ms_ / 1000) + " s");
  }
  int64_t ElapsedMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 started_)
        .count();
  }

  beast::tcp_stream& stream_;
  beast::flat_buffer& buffer_;
  http::request_parser<http::buffer_body>& parser_;
  const int timeout_ms_;
  const int64_t deadline_ms_;
  const std::chrono::steady_clock::time_point started_;
  uint64_t received_ = 0;
  bool expect_continue_ = false;
  std::optional<Error> error_;
};

}  // namespace

HttpServer::HttpServer(HttpServerOptions options, const Router& router)
    : impl_(new Impl{std::move(options), router, stats_, {}, {}, {}, {}, {}, {}}) {}

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
    impl_->threads.emplace_back([ctx = contexts_[i].get(), i] {
      pthread_setname_np(pthread_self(), ("pd-io-" + std::to_string(i)).c_str());
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
  impl_->draining = true;
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
    // The header first, then the body as the route wants it: whole (every ordinary route, up to
    // max_body_bytes) or streamed to the handler (streaming routes, up to their own limit).
    http::request_parser<http::empty_body> header;
    header.header_limit(16 * 1024);
    header.body_limit(boost::none);  // checked below, once the route is known
    stream.expires_after(std::chrono::milliseconds(options.request_timeout_ms));
    auto [ec, n] = co_await http::async_read_header(stream, buffer, header,
                                                   asio::as_tuple(asio::use_awaitable));
    if (QuietEnd(ec)) co_return;
    if (ec) {
      const Error err = MakeError(ErrorCode::kInvalidArgument, "malformed HTTP request");
      co_await WriteErrorAndClose(stream, err, stats);
      co_return;
    }
    std::optional<uint64_t> streaming;
    if (auto target = boost::urls::parse_origin_form(header.get().target())) {
      streaming = router.StreamingLimit(header.get().method_string(), target->path());
    }
    auto declared = header.content_length();  // boost::optional
    if (declared && *declared > streaming.value_or(options.max_body_bytes)) {
      const Error err = MakeError(ErrorCode::kPayloadTooLarge, "request body too large");
      co_await WriteErrorAndClose(stream, err, stats);
      if (streaming) co_await LingeringClose(stream);
      co_return;
    }
    bool keep = false;
    if (streaming) {
      keep = co_await ServeStreaming(stream, buffer, std::move(header), remote, *streaming);
    } else {
      keep = co_await ServeBuffered(stream, buffer, std::move(header), remote, upgraded);
    }
    if (!keep) co_return;
  }
}

asio::awaitable<HttpResponse> HttpServer::Impl::Dispatch(HttpRequest& req, bool target_ok) {
  // Not a ternary: GCC 12 miscompiles co_await inside a conditional expression.
  HttpResponse hres;
  if (target_ok) {
    hres = co_await router.Dispatch(req);
  } else {
    hres = ErrorResponse(MakeError(ErrorCode::kInvalidArgument, "bad request target"));
  }
  if (hres.status >= 500) {
    stats.responses_5xx.fetch_add(1, std::memory_order_relaxed);
  } else if (hres.status >= 400) {
    stats.responses_4xx.fetch_add(1, std::memory_order_relaxed);
  }
  co_return hres;
}

asio::awaitable<bool> HttpServer::Impl::ServeBuffered(
    beast::tcp_stream& stream, beast::flat_buffer& buffer,
    http::request_parser<http::empty_body>&& header, const std::string& remote, bool* upgraded) {
  http::request_parser<http::string_body> parser{std::move(header)};
  parser.body_limit(options.max_body_bytes);
  if (!parser.is_done()) {
    auto [ec, n] = co_await http::async_read(stream, buffer, parser,
                                            asio::as_tuple(asio::use_awaitable));
    if (QuietEnd(ec)) co_return false;
    if (ec) {
      Error err = ec == http::error::body_limit
                      ? MakeError(ErrorCode::kPayloadTooLarge, "request body too large")
                      : MakeError(ErrorCode::kInvalidArgument, "malformed HTTP request");
      co_await WriteErrorAndClose(stream, err, stats);
      co_return false;
    }
  }
  auto req = parser.release();
  stats.requests.fetch_add(1, std::memory_order_relaxed);
  if (upgrade && beast::websocket::is_upgrade(req)) {
    auto target = boost::urls::parse_origin_form(req.target());
    if (target && target->path() == upgrade_path) {
      stream.expires_never();
      *upgraded = true;
      upgrade(std::move(stream), std::move(req), remote);
      co_return false;
    }
  }
  bool keep_alive = req.keep_alive() && !draining.load(std::memory_order_relaxed);
  unsigned version = req.version();
  bool ok = false;
  HttpRequest hreq = ToRequest(req, remote, options.trusted_proxies, &ok);
  hreq.body = std::move(req.body());
  stats.in_flight.fetch_add(1, std::memory_order_relaxed);
  HttpResponse hres = co_await Dispatch(hreq, ok);
  bool written = co_await WriteResponse(stream, hres, version, keep_alive,
                                        options.request_timeout_ms);
  stats.in_flight.fetch_sub(1, std::memory_order_relaxed);
  co_return written && keep_alive;
}

asio::awaitable<bool> HttpServer::Impl::ServeStreaming(
    beast::tcp_stream& stream, beast::flat_buffer& buffer,
    http::request_parser<http::empty_body>&& header, const std::string& remote, uint64_t limit) {
  http::request_parser<http::buffer_body> parser{std::move(header)};
  parser.body_limit(limit);
  stats.requests.fetch_add(1, std::memory_order_relaxed);
  StreamingBody body(stream, buffer, parser, options.request_timeout_ms,
                     options.body_deadline_ms);
  bool ok = false;
  HttpRequest hreq = ToRequest(parser.get(), remote, options.trusted_proxies, &ok);
  hreq.body_reader = &body;
  stats.in_flight.fetch_add(1, std::memory_order_relaxed);
  HttpResponse hres = co_await Dispatch(hreq, ok);
  // A body the handler did not read to the end leaves bytes on the connection: close it.
  bool complete = body.complete();
  bool keep_alive = parser.get().keep_alive() && complete &&
                    !draining.load(std::memory_order_relaxed);
  bool written = co_await WriteResponse(stream, hres, parser.get().version(), keep_alive,
                                        options.request_timeout_ms);
  stats.in_flight.fetch_sub(1, std::memory_order_relaxed);
  if (written && !complete) co_await LingeringClose(stream);
  co_return written && keep_alive;
}

}  // namespace parley::transport
