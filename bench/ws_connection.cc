#include "ws_connection.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>

#include "http_client.h"
#include "ws_frame.h"

namespace parley::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using asio::ip::tcp;

namespace {
constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
}  // namespace

WsConnection::WsConnection(asio::io_context& io, size_t read_buffer_bytes)
    : io_(io), socket_(io), rbuf_(std::max<size_t>(read_buffer_bytes, 512)), mask_state_(std::random_device{}() | 1) {}

void WsConnection::SetHandlers(MessageHandler on_message, ClosedHandler on_closed) {
  on_message_ = std::move(on_message);
  on_closed_ = std::move(on_closed);
}

asio::awaitable<Status> WsConnection::Open(const Endpoint& ep, const std::string& token,
                                           std::chrono::milliseconds timeout) {
  // One deadline for connect, upgrade and ready: when it fires, pending operations are aborted.
  // Shared with the timer's handler, which may already be queued when Open() finishes.
  enum class Phase { kOpening, kDone, kTimedOut };
  auto phase = std::make_shared<Phase>(Phase::kOpening);
  asio::steady_timer deadline(io_);
  deadline.expires_after(timeout);
  deadline.async_wait([this, phase](boost::system::error_code ec) {
    if (ec || *phase != Phase::kOpening) return;
    *phase = Phase::kTimedOut;
    boost::system::error_code ignored;
    socket_.cancel(ignored);
  });

  Status st = co_await Handshake(ep, token);
  std::string_view first;
  while (st.ok() && !NextMessage(first)) {
    if (!failure_.empty()) break;
    if (!co_await ReadMore()) break;
  }
  const bool timed_out = *phase == Phase::kTimedOut;
  *phase = Phase::kDone;
  deadline.cancel();
  if (timed_out) {
    co_return Error{ExitCode::kSetupFailed, "GET /v1/ws: no {\"type\":\"ready\"} frame within " +
                                                std::to_string(timeout.count()) + " ms"};
  }
  if (!st.ok()) co_return st;
  if (!failure_.empty()) co_return Error{ExitCode::kSetupFailed, "GET /v1/ws: " + failure_};

  boost::system::error_code ec;
  auto v = json::parse(first, ec);
  const json::object* obj = (!ec && v.is_object()) ? &v.as_object() : nullptr;
  const json::value* type = obj ? obj->if_contains("type") : nullptr;
  if (!type || !type->is_string() || type->as_string() != "ready") {
    co_return Error{ExitCode::kSetupFailed,
                    "GET /v1/ws: first frame is not {\"type\":\"ready\",...} (docs/api.md): " +
                        std::string(first.substr(0, 200))};
  }
  if (auto* u = obj->if_contains("user_id"); u && u->is_string()) ready_user_id_ = u->as_string();
  if (auto* d = obj->if_contains("device_id"); d && d->is_string()) {
    ready_device_id_ = d->as_string();
  }
  open_ = true;
  asio::co_spawn(io_, ReadLoop(), asio::detached);
  co_return Ok();
}

asio::awaitable<Status> WsConnection::Handshake(const Endpoint& ep, const std::string& token) {
  if (!source_.is_unspecified()) {
    boost::system::error_code bec;
    socket_.open(ep.address.protocol(), bec);
    int one = 1;  // defer the port choice to connect(): ports then need only be unique per peer
    if (!bec) ::setsockopt(socket_.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (!bec) socket_.bind(tcp::endpoint(source_, 0), bec);
    if (bec) {
      co_return Error{ExitCode::kSetupFailed,
                      "cannot bind source address " + source_.to_string() + ": " + bec.message()};
    }
  }
  auto [cec] = co_await socket_.async_connect(ep.address, kTok);
  if (cec) {
    co_return Error{ExitCode::kServerUnreachable,
                    "cannot connect to " + ep.host_header() + ": " + cec.message()};
  }
  socket_.set_option(tcp::no_delay(true));

  HttpRequest described{"GET", "/v1/ws"};
  http::request<http::empty_body> req{http::verb::get, "/v1/ws", 11};
  req.set(http::field::host, ep.host_header());
  req.set(http::field::user_agent, "parley-bench");
  req.set(http::field::upgrade, "websocket");
  req.set(http::field::connection, "Upgrade");
  req.set(http::field::sec_websocket_key, MakeWebSocketKey());
  req.set(http::field::sec_websocket_version, "13");
  req.set(http::field::authorization, "Bearer " + token);
  auto [wec, wn] = co_await http::async_write(socket_, req, kTok);
  if (wec) co_return Error{ExitCode::kSetupFailed, "GET /v1/ws: write: " + wec.message()};

  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  auto [rec, rn] = co_await http::async_read(socket_, buffer, res, kTok);
  if (rec) co_return Error{ExitCode::kSetupFailed, "GET /v1/ws: no upgrade response: " + rec.message()};
  if (res.result() != http::status::switching_protocols) {
    HttpResponse r{static_cast<int>(res.result_int()), res.body(), ""};
    co_return Error{ExitCode::kSetupFailed,
                    "WebSocket upgrade refused: " + DescribeHttpError(described, r)};
  }
  // The ready frame may have arrived in the same segment as the 101.
  const size_t extra = buffer.size();
  if (extra > rbuf_.size()) rbuf_.resize(extra * 2);
  std::memcpy(rbuf_.data(), buffer.data().data(), extra);
  rbegin_ = 0;
  rend_ = extra;
  co_return Ok();
}

bool WsConnection::NextMessage(std::string_view& out) {
  for (;;) {
    std::string_view avail(rbuf_.data() + rbegin_, rend_ - rbegin_);
    FrameHeader h;
    std::string err;
    const ParseStatus ps = ParseFrameHeader(avail, h, &err);
    if (ps == ParseStatus::kError) {
      Fail("WebSocket protocol error from server: " + err);
      return false;
    }
    if (ps == ParseStatus::kIncomplete || avail.size() - h.header_len < h.payload_len) {
      return false;
    }
    char* payload = rbuf_.data() + rbegin_ + h.header_len;
    const size_t n = static_cast<size_t>(h.payload_len);
    if (h.masked) ApplyMask(payload, n, h.mask_key);
    rbegin_ += h.header_len + n;
    std::string_view data(payload, n);

    switch (h.opcode) {
      case Opcode::kPing:
        QueueFrame(static_cast<uint8_t>(Opcode::kPong), data);
        continue;
      case Opcode::kPong:
        continue;
      case Opcode::kClose: {
        std::string why = "server closed the WebSocket";
        if (n >= 2) {
          why += " (code " + std::to_string((uint8_t(data[0]) << 8) | uint8_t(data[1]));
          if (n > 2) why += ", " + std::string(data.substr(2));
          why += ")";
        }
        if (!closing_) QueueFrame(static_cast<uint8_t>(Opcode::kClose), data.substr(0, 2));
        Fail(why);
        return false;
      }
      case Opcode::kContinuation:
        if (!in_fragmented_) {
          Fail("WebSocket protocol error from server: continuation without a first frame");
          return false;
        }
        fragments_.append(data);
        if (!h.fin) continue;
        in_fragmented_ = false;
        out = fragments_;
        return true;
      case Opcode::kText:
      case Opcode::kBinary:
        if (in_fragmented_) {
          Fail("WebSocket protocol error from server: new message inside a fragmented one");
          return false;
        }
        if (h.fin) {
          out = data;
          return true;
        }
        in_fragmented_ = true;
        fragments_.assign(data);
        continue;
    }
  }
}

asio::awaitable<bool> WsConnection::ReadMore() {
  if (rbegin_ > 0) {
    std::memmove(rbuf_.data(), rbuf_.data() + rbegin_, rend_ - rbegin_);
    rend_ -= rbegin_;
    rbegin_ = 0;
  }
  if (rend_ == rbuf_.size()) rbuf_.resize(rbuf_.size() * 2);  // a frame larger than the buffer
  auto [ec, n] = co_await socket_.async_read_some(
      asio::buffer(rbuf_.data() + rend_, rbuf_.size() - rend_), kTok);
  if (ec) {
    Fail(ec == asio::error::eof ? std::string("server closed the TCP connection")
                                : "read: " + ec.message());
    co_return false;
  }
  rend_ += n;
  co_return true;
}

asio::awaitable<void> WsConnection::ReadLoop() {
  std::string_view msg;
  for (;;) {
    while (NextMessage(msg)) {
      if (on_message_) on_message_(msg);
    }
    if (!failure_.empty() || closing_) break;
    if (!co_await ReadMore()) break;
  }
  const bool notify = open_ && !closing_;
  open_ = false;
  if (notify && on_closed_) on_closed_(failure_);
}

void WsConnection::QueueFrame(uint8_t opcode, std::string_view payload) {
  if (!failure_.empty()) return;
  // xorshift32: a fresh masking key per frame, as RFC 6455 asks, at no cost.
  mask_state_ ^= mask_state_ << 13;
  mask_state_ ^= mask_state_ >> 17;
  mask_state_ ^= mask_state_ << 5;
  AppendClientFrame(out_, static_cast<Opcode>(opcode), payload, mask_state_);
  ScheduleFlush();
}

void WsConnection::SendText(std::string_view text) {
  if (!open_ || closing_) return;
  QueueFrame(static_cast<uint8_t>(Opcode::kText), text);
}

void WsConnection::ScheduleFlush() {
  // Deferred to the end of this turn of the event loop, so that all frames queued by one batch
  // of incoming messages or timers leave in one write.
  if (writing_ || flush_posted_) return;
  flush_posted_ = true;
  asio::post(io_, [this] {
    flush_posted_ = false;
    Flush();
  });
}

void WsConnection::Flush() {
  if (writing_ || out_.empty() || !socket_.is_open()) return;
  writing_ = true;
  inflight_.swap(out_);
  out_.clear();
  ++writes_;
  asio::async_write(socket_, asio::buffer(inflight_),
                    [this](boost::system::error_code ec, size_t) {
                      writing_ = false;
                      inflight_.clear();
                      if (ec) {
                        Fail("write: " + ec.message());
                        return;
                      }
                      if (closing_ && out_.empty()) {
                        boost::system::error_code ignored;
                        socket_.shutdown(tcp::socket::shutdown_send, ignored);
                        return;
                      }
                      Flush();
                    });
}

void WsConnection::Close() {
  if (closing_) return;
  const bool was_open = open_;
  closing_ = true;
  open_ = false;
  if (!was_open || !failure_.empty()) {
    boost::system::error_code ignored;
    socket_.close(ignored);
    return;
  }
  const char normal[2] = {char(0x03), char(0xE8)};  // 1000: normal closure
  AppendClientFrame(out_, Opcode::kClose, std::string_view(normal, 2), mask_state_);
  if (!writing_) Flush();
}

void WsConnection::Fail(const std::string& why) {
  if (!failure_.empty()) return;
  failure_ = why;
  // Wakes the read loop if the failure came from the write side, so on_closed_ fires.
  boost::system::error_code ignored;
  socket_.cancel(ignored);
}

}  // namespace parley::bench
