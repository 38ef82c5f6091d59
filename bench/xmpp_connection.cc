#include "xmpp_connection.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <memory>

namespace parley::bench {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
constexpr size_t kReadChunk = 64 * 1024;

std::string StreamHeader(const std::string& domain) {
  return "<?xml version='1.0'?><stream:stream to='" + domain +
         "' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
         "version='1.0'>";
}

std::string Short(std::string_view s) { return std::string(s.substr(0, 300)); }
}  // namespace

XmppConnection::XmppConnection(asio::io_context& io) : io_(io), socket_(io), rbuf_(kReadChunk) {}

void XmppConnection::SetHandlers(StanzaHandler on_stanza, ClosedHandler on_closed) {
  on_stanza_ = std::move(on_stanza);
  on_closed_ = std::move(on_closed);
}

asio::awaitable<Status> XmppConnection::Open(const Endpoint& ep, XmppLogin login,
                                             std::chrono::milliseconds timeout) {
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
  Status st = co_await Login(ep, login);
  const bool timed_out = *phase == Phase::kTimedOut;
  *phase = Phase::kDone;
  deadline.cancel();
  if (timed_out) {
    co_return Error{ExitCode::kSetupFailed, "XMPP login of " + login.username + ": not done within " +
                                                std::to_string(timeout.count()) + " ms"};
  }
  if (!st.ok()) co_return st;
  open_ = true;
  asio::co_spawn(io_, ReadLoop(), asio::detached);
  co_return Ok();
}

asio::awaitable<XmppEvent> XmppConnection::NextEvent() {
  for (;;) {
    XmppEvent e = scanner_.Next();
    if (e.kind != XmppEvent::Kind::kNeedMore) co_return e;
    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(rbuf_), kTok);
    if (ec) {
      failure_ = ec == asio::error::eof ? std::string("server closed the TCP connection")
                                        : "read: " + ec.message();
      co_return XmppEvent{XmppEvent::Kind::kError, failure_};
    }
    scanner_.Feed(std::string_view(rbuf_.data(), n));
  }
}

asio::awaitable<Result<std::string>> XmppConnection::Expect(std::string_view what,
                                                            bool after_header) {
  for (;;) {
    XmppEvent e = co_await NextEvent();
    switch (e.kind) {
      case XmppEvent::Kind::kStreamOpen:
        if (after_header) {
          after_header = false;
          continue;
        }
        co_return Error{ExitCode::kSetupFailed, "XMPP: unexpected stream header waiting for " +
                                                    std::string(what)};
      case XmppEvent::Kind::kElement:
        if (after_header) {
          co_return Error{ExitCode::kSetupFailed, "XMPP: no stream header: " + Short(e.text)};
        }
        if (ElementName(e.text) == "stream:error") {
          co_return Error{ExitCode::kSetupFailed, "XMPP stream error: " + Short(e.text)};
        }
        co_return std::string(e.text);
      case XmppEvent::Kind::kStreamClose:
        co_return Error{ExitCode::kSetupFailed,
                        "XMPP: server closed the stream waiting for " + std::string(what)};
      default:
        co_return Error{ExitCode::kSetupFailed, "XMPP: " + std::string(e.text) +
                                                    " waiting for " + std::string(what)};
    }
  }
}

asio::awaitable<Status> XmppConnection::Login(const Endpoint& ep, const XmppLogin& login) {
  auto [cec] = co_await socket_.async_connect(ep.address, kTok);
  if (cec) {
    co_return Error{ExitCode::kServerUnreachable,
                    "cannot connect to " + ep.host_header() + ": " + cec.message()};
  }
  socket_.set_option(tcp::no_delay(true));
  auto write = [this](std::string s) -> asio::awaitable<bool> {
    auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(s), kTok);
    co_return !ec;
  };
  const auto fail = [&](const std::string& m) { return Error{ExitCode::kSetupFailed, m}; };
  if (!co_await write(StreamHeader(login.domain))) co_return fail("XMPP: write failed");
  auto features = co_await Expect("stream features", true);
  if (!features.ok()) co_return features.error();

  if (login.register_first) {
    if (FindChild(*features, "register").empty()) {
      co_return fail("XMPP: the server offers no in-band registration (mod_register)");
    }
    co_await write("<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>" +
                   login.username + "</username><password>" + login.password +
                   "</password></query></iq>");
    auto res = co_await Expect("registration result", false);
    if (!res.ok()) co_return res.error();
    if (Attr(*res, "type") != "result") {
      co_return fail("XMPP registration of " + login.username + " refused: " + Short(*res));
    }
  }

  const std::string plain = std::string(1, '\0') + login.username + '\0' + login.password;
  co_await write("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
                 Base64(plain) + "</auth>");
  auto auth = co_await Expect("SASL result", false);
  if (!auth.ok()) co_return auth.error();
  if (ElementName(*auth) != "success") {
    co_return fail("XMPP SASL PLAIN for " + login.username + " failed: " + Short(*auth));
  }

  co_await write(StreamHeader(login.domain));  // stream restart after SASL
  auto features2 = co_await Expect("stream features after auth", true);
  if (!features2.ok()) co_return features2.error();

  co_await write("<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                 "<resource>" + login.resource + "</resource></bind></iq>");
  auto bind = co_await Expect("bind result", false);
  if (!bind.ok()) co_return bind.error();
  if (Attr(*bind, "type") != "result") co_return fail("XMPP bind failed: " + Short(*bind));
  jid_ = std::string(ChildText(*bind, "jid"));

  const std::string_view session = FindChild(*features2, "session");
  if (!session.empty() && FindChild(session, "optional").empty()) {
    co_await write("<iq type='set' id='sess'><session "
                   "xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
    auto res = co_await Expect("session result", false);
    if (!res.ok()) co_return res.error();
    if (Attr(*res, "type") != "result") co_return fail("XMPP session failed: " + Short(*res));
  }
  if (!co_await write("<presence/>")) co_return fail("XMPP: write failed");
  co_return Ok();
}

asio::awaitable<void> XmppConnection::ReadLoop() {
  for (;;) {
    XmppEvent e = scanner_.Next();
    if (e.kind == XmppEvent::Kind::kElement) {
      if (ElementName(e.text) == "stream:error") {
        Fail("XMPP stream error: " + Short(e.text));
        break;
      }
      if (on_stanza_) on_stanza_(e.text);
      continue;
    }
    if (e.kind == XmppEvent::Kind::kStreamClose) {
      Fail("server closed the XMPP stream");
      break;
    }
    if (e.kind == XmppEvent::Kind::kError) {
      Fail("XMPP: " + std::string(e.text));
      break;
    }
    if (e.kind == XmppEvent::Kind::kStreamOpen) continue;
    if (!failure_.empty() || closing_) break;
    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(rbuf_), asio::as_tuple(asio::use_awaitable));
    if (ec) {
      Fail(ec == asio::error::eof ? std::string("server closed the TCP connection")
                                  : "read: " + ec.message());
      break;
    }
    scanner_.Feed(std::string_view(rbuf_.data(), n));
  }
  const bool notify = open_ && !closing_;
  open_ = false;
  if (notify && on_closed_) on_closed_(failure_);
}

void XmppConnection::Send(std::string_view xml) {
  if (!open_ || closing_ || !failure_.empty()) return;
  out_.append(xml);
  ScheduleFlush();
}

void XmppConnection::ScheduleFlush() {
  if (writing_ || flush_posted_) return;
  flush_posted_ = true;
  asio::post(io_, [this] {
    flush_posted_ = false;
    Flush();
  });
}

void XmppConnection::Flush() {
  if (writing_ || out_.empty() || !socket_.is_open()) return;
  writing_ = true;
  inflight_.swap(out_);
  out_.clear();
  ++writes_;
  asio::async_write(socket_, asio::buffer(inflight_), [this](boost::system::error_code ec, size_t) {
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

void XmppConnection::Close() {
  if (closing_) return;
  const bool was_open = open_;
  closing_ = true;
  open_ = false;
  if (!was_open || !failure_.empty()) {
    boost::system::error_code ignored;
    socket_.close(ignored);
    return;
  }
  out_.append("</stream:stream>");
  if (!writing_) Flush();
}

void XmppConnection::Fail(const std::string& why) {
  if (!failure_.empty()) return;
  failure_ = why;
  boost::system::error_code ignored;
  socket_.cancel(ignored);
}

}  // namespace parley::bench
