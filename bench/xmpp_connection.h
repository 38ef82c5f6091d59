// One XMPP client-to-server connection (RFC 6120) over plain TCP, for the `xmpp-direct`
// scenario: stream open, optional in-band registration (XEP-0077), SASL PLAIN, stream restart,
// resource bind, session (when offered), initial presence. Then every top-level element the
// server sends goes to a handler, and Send() queues raw XML.
//
// Like WsConnection: sends are coalesced (one write per turn of the event loop); every method
// except the constructor runs on the connection's io_context; the object outlives its run().
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "endpoint.h"
#include "result.h"
#include "xmpp_scan.h"

namespace parley::bench {

struct XmppLogin {
  std::string domain;    // the server's XMPP domain (to='...')
  std::string username;  // local part
  std::string password;
  std::string resource = "pb";
  bool register_first = false;  // in-band registration on the same stream before auth
};

class XmppConnection {
 public:
  using StanzaHandler = std::function<void(std::string_view)>;
  using ClosedHandler = std::function<void(const std::string& why)>;

  explicit XmppConnection(boost::asio::io_context& io);
  XmppConnection(const XmppConnection&) = delete;
  XmppConnection& operator=(const XmppConnection&) = delete;

  // Everything up to and including the initial presence, within `timeout`. `login` is taken by
  // value: the coroutine outlives the caller's temporaries.
  boost::asio::awaitable<Status> Open(const Endpoint& ep, XmppLogin login,
                                      std::chrono::milliseconds timeout);
  void SetHandlers(StanzaHandler on_stanza, ClosedHandler on_closed);
  void Send(std::string_view xml);
  // Sends </stream:stream> after what is queued and shuts the socket down; no handler fires.
  void Close();

  bool is_open() const { return open_; }
  const std::string& jid() const { return jid_; }  // full JID from the bind result
  uint64_t writes() const { return writes_; }

 private:
  boost::asio::awaitable<Status> Login(const Endpoint& ep, const XmppLogin& login);
  // The next event of the stream during setup; reads as needed. Errors become kError.
  boost::asio::awaitable<XmppEvent> NextEvent();
  // The next top-level element (after a stream header if `after_header`).
  boost::asio::awaitable<Result<std::string>> Expect(std::string_view what, bool after_header);
  boost::asio::awaitable<void> ReadLoop();
  void ScheduleFlush();
  void Flush();
  void Fail(const std::string& why);

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::socket socket_;
  XmppScanner scanner_;
  std::vector<char> rbuf_;

  std::string out_;
  std::string inflight_;
  bool writing_ = false;
  bool flush_posted_ = false;
  uint64_t writes_ = 0;

  bool open_ = false;
  bool closing_ = false;
  std::string failure_;
  std::string jid_;
  StanzaHandler on_stanza_;
  ClosedHandler on_closed_;
};

}  // namespace parley::bench
