// WsConnection: the server's side of one WebSocket on a TCP socket (RFC 6455, through
// ws_frame.h), built to cost little while idle and little per frame:
// - no read buffer between messages: it waits for readability, reads into a buffer of its I/O
//   thread, and keeps only the bytes of an unfinished frame;
// - frames queued in one event-loop turn leave in one socket write (tried at once, without
//   blocking; the rest of a short write asynchronously);
// - no coroutine, one timer: heartbeats (a ping after a quiet half of idle_timeout; closed after
//   a quiet idle_timeout … 1.5 × idle_timeout) and the bound on a close handshake.
//
// The owner (a session) holds the connection and is told of messages, completed writes and the
// end through WsConnection::Owner. Every pending operation holds a shared_ptr to the owner, so the
// owner lives while the connection has work. Pings are answered here; pongs only count as traffic.
//
// Closing: Close() queues a close frame, drops every later SendText, discards what the client
// still sends, and ends once the client's close frame arrives (or close_timeout passes). A close
// frame from the client is answered with its own code and the connection ends once the answer is
// written. A client that breaks the protocol gets the close code the parser chose (1002, 1007,
// 1009). OnWsClosed runs exactly once, when the connection ends (socket closed).
//
// Not thread-safe: every call on the socket's executor (one io_context thread).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "transport/ws_frame.h"

namespace parley::transport {

struct WsConnectionOptions {
  size_t max_message_bytes = 1 << 20;  // a longer message closes with 1009
  std::chrono::milliseconds idle_timeout{30'000};
  std::chrono::milliseconds close_timeout{5'000};  // for the client's close frame
};

class WsConnection {
 public:
  class Owner {
   public:
    // A whole text (valid UTF-8) or binary message.
    virtual void OnWsMessage(WsEvent::Kind kind, std::string payload) = 0;
    // A socket write completed: pending_bytes() fell.
    virtual void OnWsWritten() = 0;
    // The connection ended: the socket is closed; nothing more is read or written.
    virtual void OnWsClosed() = 0;

   protected:
    ~Owner() = default;
  };

  WsConnection(boost::asio::ip::tcp::socket socket, WsConnectionOptions options);
  WsConnection(const WsConnection&) = delete;
  WsConnection& operator=(const WsConnection&) = delete;

  // Writes `handshake` (the 101 answer, ws_frame.h's WsAcceptResponse) and starts reading.
  // `owner` must own this connection.
  void Start(std::weak_ptr<Owner> owner, std::string handshake);

  // Queues one text frame; dropped once closing or ended.
  void SendText(std::string_view payload);
  // Starts the close handshake with `code` and `reason`; nothing if already closing.
  void Close(uint16_t code, std::string_view reason);
  // Stops handing messages to the owner (a message already parsed is still handed over) until
  // ResumeReading; the bytes wait in the socket.
  void PauseReading();
  void ResumeReading();

  // Bytes queued or being written.
  size_t pending_bytes() const { return pending_.size() + in_flight_.size() - written_; }
  bool closing() const { return closing_ || ended_; }
  bool ended() const { return ended_; }
  // Socket writes started so far (each carries everything queued at its start).
  uint64_t writes() const { return writes_; }
  // Heap bytes its buffers hold (0 between frames once the writes are done: nothing kept idle).
  size_t buffered_capacity() const;
  boost::asio::any_io_executor get_executor() { return socket_.get_executor(); }

 private:
  std::shared_ptr<Owner> Hold() const { return owner_.lock(); }
  void WaitReadable();
  void ReadAvailable();
  // Parses `data` (appended to what an unfinished frame left) and hands each event on.
  void Feed(std::string_view data);
  void ParseHeld();  // what in_ holds
  void Parse(std::string_view& rest);
  void OnEvent(WsEvent& ev);
  void Fail(uint16_t code);
  void ScheduleFlush();
  void Flush();
  // After a whole write: frees or keeps the buffer, half-closes after our close frame, tells the
  // owner. False when the connection ended.
  bool Written();
  void ArmTimer(std::chrono::milliseconds after);
  void OnTimer();
  void End();

  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;
  std::weak_ptr<Owner> owner_;
  FrameParser parser_;
  std::chrono::milliseconds idle_timeout_;
  std::chrono::milliseconds close_timeout_;
  std::string in_;         // bytes of an unfinished frame (empty, unallocated, between frames)
  std::string pending_;    // frames queued, not yet being written
  std::string in_flight_;  // the write in progress
  size_t written_ = 0;     // … of which already written
  uint64_t writes_ = 0;
  bool writing_ = false;   // a flush is posted or a write in progress
  bool waiting_ = false;   // an async_wait for readability is pending
  bool paused_ = false;
  bool received_ = false;  // something arrived since the last heartbeat tick
  bool pinged_ = false;    // a ping is out, unanswered
  bool closing_ = false;   // a close frame queued (ours or the answer to the client's)
  bool close_queued_ = false;     // … and in pending_ (always its last frame)
  bool close_in_flight_ = false;  // … in the write in progress
  bool close_written_ = false;
  bool peer_closed_ = false;  // the client's close frame arrived
  bool broken_ = false;       // the client broke the protocol: what follows is discarded
  bool ended_ = false;
};

}  // namespace parley::transport
