// One client WebSocket to GET /v1/ws: upgrade with a bearer token, wait for the server's
// {"type":"ready"} frame, then deliver each text message to a handler and send text frames.
//
// Sends are coalesced: SendText() only appends an encoded frame to a buffer, and one write per
// turn of the event loop carries everything queued. Pings are answered, close is echoed.
//
// Threading: every method except the constructor must run on the io_context the connection was
// made with (post to executor() from elsewhere). The object must outlive that io_context's run().
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "endpoint.h"
#include "result.h"

namespace parley::bench {

class WsConnection {
 public:
  // Called with each complete text message; the view is valid only during the call.
  using MessageHandler = std::function<void(std::string_view)>;
  // Called once when the connection ends for any reason other than Close().
  using ClosedHandler = std::function<void(const std::string& why)>;

  // `read_buffer_bytes`: initial size of the read buffer (it grows for larger frames); the
  // default suits load, the idle scenario uses a small one to hold many connections.
  explicit WsConnection(boost::asio::io_context& io, size_t read_buffer_bytes = 64 * 1024);
  WsConnection(const WsConnection&) = delete;
  WsConnection& operator=(const WsConnection&) = delete;

  // Connects, upgrades and waits for the ready frame, all within `timeout`. On success the read
  // loop runs and messages go to the handler (dropped until one is set).
  boost::asio::awaitable<Status> Open(const Endpoint& ep, const std::string& access_token,
                                      std::chrono::milliseconds timeout);

  // Before Open(): connect from this local address (port chosen at connect time, so many
  // source addresses multiply the ephemeral ports available towards one server).
  void SetSourceAddress(const boost::asio::ip::address& a) { source_ = a; }

  void SetHandlers(MessageHandler on_message, ClosedHandler on_closed);
  // Queues one text frame. Does nothing once the connection has ended.
  void SendText(std::string_view text);
  // Sends a close frame after what is queued and shuts the socket down; no handler fires.
  void Close();

  bool is_open() const { return open_; }
  const std::string& ready_user_id() const { return ready_user_id_; }
  const std::string& ready_device_id() const { return ready_device_id_; }
  boost::asio::io_context::executor_type executor() { return io_.get_executor(); }
  uint64_t writes() const { return writes_; }  // write syscalls issued, for the report

 private:
  boost::asio::awaitable<Status> Handshake(const Endpoint& ep, const std::string& token);
  // Moves the next complete message (text or binary) into `out`, handling control frames.
  // Returns false when more bytes are needed; sets failed_ on a protocol error.
  bool NextMessage(std::string_view& out);
  boost::asio::awaitable<bool> ReadMore();
  boost::asio::awaitable<void> ReadLoop();
  void ScheduleFlush();
  void Flush();
  void Fail(const std::string& why);
  void QueueFrame(uint8_t opcode, std::string_view payload);

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::ip::address source_;  // unspecified: let the kernel choose

  // Read side: bytes [rbegin_, rend_) of rbuf_ are received and not yet parsed.
  std::vector<char> rbuf_;
  size_t rbegin_ = 0;
  size_t rend_ = 0;
  std::string fragments_;  // a fragmented message being assembled
  bool in_fragmented_ = false;

  // Write side: frames queued since the last write, and the bytes of the write in flight.
  std::string out_;
  std::string inflight_;
  bool writing_ = false;
  bool flush_posted_ = false;
  uint32_t mask_state_;  // xorshift; masking keys need not be secret for a load generator
  uint64_t writes_ = 0;

  bool open_ = false;
  bool closing_ = false;
  std::string failure_;
  std::string ready_user_id_;
  std::string ready_device_id_;
  MessageHandler on_message_;
  ClosedHandler on_closed_;
};

}  // namespace parley::bench
