#include "sdk/net/ws_client.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket.hpp>

namespace parley::sdk::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

struct WsClient::Impl {
  Impl(asio::io_context& ioc, BaseUrl b, WsOptions o)
      : base(std::move(b)), opts(o), resolver(ioc), ws(ioc) {}
  BaseUrl base;
  WsOptions opts;
  asio::ip::tcp::resolver resolver;
  websocket::stream<beast::tcp_stream> ws;
  websocket::response_type handshake_res;
  beast::flat_buffer read_buf;
  std::deque<std::string> outbox;
  bool writing = false;
  bool open = false;
  bool closing = false;
  bool finished = false;
  std::string path;
  std::vector<std::pair<std::string, std::string>> headers;
  Callbacks cb;
};

std::shared_ptr<WsClient> WsClient::Create(asio::io_context& ioc, BaseUrl base,
                                           WsOptions options) {
  return std::shared_ptr<WsClient>(
      new WsClient(std::make_unique<Impl>(ioc, std::move(base), options)));
}

WsClient::WsClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WsClient::~WsClient() = default;

namespace {
Error Unavailable(std::string_view what, const beast::error_code& ec) {
  std::string why = ec == beast::error::timeout ? "timed out" : ec.message();
  return MakeError(ErrorCode::kUnavailable, std::string(what) + ": " + why);
}
ErrorCode CodeOfStatus(int status) {
  switch (status) {
    case 400: return ErrorCode::kInvalidArgument;
    case 401: return ErrorCode::kUnauthenticated;
    case 403: return ErrorCode::kForbidden;
    case 404: return ErrorCode::kNotFound;
    case 429: return ErrorCode::kRateLimited;
    default: return ErrorCode::kUnavailable;
  }
}
}  // namespace

void WsClient::Start(std::string path, std::vector<std::pair<std::string, std::string>> headers,
                     Callbacks callbacks) {
  impl_->path = impl_->base.Target(path);
  impl_->headers = std::move(headers);
  impl_->cb = std::move(callbacks);
  auto self = shared_from_this();
  impl_->resolver.async_resolve(
      impl_->base.host, impl_->base.port,
      [self](beast::error_code ec, asio::ip::tcp::resolver::results_type results) {
        auto& im = *self->impl_;
        if (ec) return self->Finish(Unavailable("cannot resolve " + im.base.host, ec), 0);
        if (im.closing) return self->Finish(MakeError(ErrorCode::kUnavailable, "closed"), 0);
        auto& tcp = beast::get_lowest_layer(im.ws);
        tcp.expires_after(im.opts.connect_timeout);
        tcp.async_connect(results, [self](beast::error_code ec, const auto&) {
          auto& im = *self->impl_;
          if (ec) return self->Finish(Unavailable("cannot connect", ec), 0);
          if (im.closing) return self->Finish(MakeError(ErrorCode::kUnavailable, "closed"), 0);
          beast::get_lowest_layer(im.ws).expires_never();  // the websocket's timeouts take over
          websocket::stream_base::timeout t;
          t.handshake_timeout = im.opts.handshake_timeout;
          t.idle_timeout = im.opts.idle_timeout;
          t.keep_alive_pings = true;
          im.ws.set_option(t);
          im.ws.read_message_max(im.opts.max_frame_bytes);
          auto hdrs = im.headers;
          im.ws.set_option(websocket::stream_base::decorator(
              [hdrs](websocket::request_type& req) {
                req.set(beast::http::field::user_agent, "parley-sdk/1");
                for (const auto& [k, v] : hdrs) req.set(k, v);
              }));
          im.ws.async_handshake(
              im.handshake_res, im.base.HostHeader(), im.path, [self](beast::error_code ec) {
                auto& im = *self->impl_;
                if (ec) {
                  int status = static_cast<int>(im.handshake_res.result_int());
                  if (ec == websocket::error::upgrade_declined && status != 101 && status != 0) {
                    return self->Finish(
                        MakeError(CodeOfStatus(status),
                                  "the server refused the WebSocket: HTTP " +
                                      std::to_string(status)),
                        status);
                  }
                  return self->Finish(Unavailable("WebSocket handshake", ec), 0);
                }
                im.open = true;
                if (im.cb.on_open) im.cb.on_open();
                if (im.closing) return self->Close();
                self->DoRead();
                self->DoWrite();
              });
        });
      });
}

void WsClient::DoRead() {
  auto self = shared_from_this();
  impl_->ws.async_read(impl_->read_buf, [self](beast::error_code ec, size_t) {
    auto& im = *self->impl_;
    if (ec) {
      std::string what = "WebSocket closed";
      if (ec == websocket::error::closed) {
        auto reason = im.ws.reason();
        what += " (" + std::to_string(reason.code) + " " + std::string(reason.reason.data(), reason.reason.size()) + ")";
        return self->Finish(MakeError(ErrorCode::kUnavailable, what), 0);
      }
      return self->Finish(Unavailable(what, ec), 0);
    }
    std::string text = beast::buffers_to_string(im.read_buf.data());
    im.read_buf.consume(im.read_buf.size());
    if (im.ws.got_text() && im.cb.on_text) im.cb.on_text(std::move(text));
    if (!im.finished) self->DoRead();
  });
}

void WsClient::Send(std::string text) {
  if (impl_->finished || impl_->closing) return;
  impl_->outbox.push_back(std::move(text));
  if (impl_->open) DoWrite();
}

void WsClient::DoWrite() {
  auto& im = *impl_;
  if (im.writing || im.outbox.empty() || im.finished || im.closing) return;
  im.writing = true;
  im.ws.text(true);
  auto self = shared_from_this();
  im.ws.async_write(asio::buffer(im.outbox.front()), [self](beast::error_code ec, size_t) {
    auto& im = *self->impl_;
    im.writing = false;
    if (ec) return self->Finish(Unavailable("WebSocket write", ec), 0);
    im.outbox.pop_front();
    self->DoWrite();
  });
}

void WsClient::Close() {
  auto& im = *impl_;
  if (im.finished) return;
  bool was_closing = im.closing;
  im.closing = true;
  if (!im.open) {
    // Connecting: cancel; the pending step sees `closing` or fails, and finishes.
    im.resolver.cancel();
    beast::get_lowest_layer(im.ws).cancel();
    return;
  }
  if (was_closing && im.open) return;
  auto self = shared_from_this();
  im.ws.async_close(websocket::close_code::normal, [self](beast::error_code) {
    // The pending read completes with `closed` and finishes; make sure nothing hangs.
    beast::get_lowest_layer(self->impl_->ws).close();
  });
}

void WsClient::Finish(Error error, int http_status) {
  auto& im = *impl_;
  if (im.finished) return;
  im.finished = true;
  im.open = false;
  beast::error_code ignored;
  beast::get_lowest_layer(im.ws).socket().close(ignored);
  auto cb = std::move(im.cb.on_closed);
  im.cb = {};
  if (cb) cb(std::move(error), http_status);
}

}  // namespace parley::sdk::net
