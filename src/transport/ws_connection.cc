#include "transport/ws_connection.h"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

namespace parley::transport {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {
// Bytes read per system call, into one buffer per I/O thread. A read that fills it may have left
// more behind; one that does not emptied the socket.
constexpr size_t kReadChunk = 64 * 1024;
}  // namespace

WsConnection::WsConnection(asio::ip::tcp::socket socket, WsConnectionOptions options)
    : socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      parser_(options.max_message_bytes),
      idle_timeout_(options.idle_timeout),
      close_timeout_(options.close_timeout) {}

void WsConnection::Start(std::weak_ptr<Owner> owner, std::string handshake) {
  owner_ = std::move(owner);
  error_code ec;
  socket_.non_blocking(true, ec);  // reads and writes are tried at once, never block
  if (ec) {
    End();
    return;
  }
  pending_ = std::move(handshake);
  ScheduleFlush();
  ArmTimer(idle_timeout_ / 2);
  WaitReadable();
}

size_t WsConnection::buffered_capacity() const {
  auto heap = [](const std::string& s) {
    return s.capacity() > std::string().capacity() ? s.capacity() : 0;
  };
  return heap(in_) + heap(pending_) + heap(in_flight_) + parser_.held_capacity();
}

void WsConnection::SendText(std::string_view payload) {
  if (closing_ || ended_) return;
  AppendWsFrame(pending_, WsOpcode::kText, payload);
  ScheduleFlush();
}

void WsConnection::Close(uint16_t code, std::string_view reason) {
  if (closing_ || ended_) return;
  closing_ = true;
  close_queued_ = true;
  AppendWsClose(pending_, code, reason);
  ScheduleFlush();
  ArmTimer(close_timeout_);
}

void WsConnection::PauseReading() { paused_ = true; }

void WsConnection::ResumeReading() {
  if (!paused_ || ended_) return;
  paused_ = false;
  // Posted: the owner may be inside OnWsMessage, and the next message must not nest in it.
  asio::post(socket_.get_executor(), [this, hold = Hold()] {
    if (ended_ || paused_) return;
    if (!in_.empty()) ParseHeld();
    if (!ended_ && !paused_ && !waiting_) ReadAvailable();
  });
}

void WsConnection::WaitReadable() {
  if (waiting_ || ended_) return;
  waiting_ = true;
  socket_.async_wait(asio::ip::tcp::socket::wait_read, [this, hold = Hold()](error_code ec) {
    waiting_ = false;
    if (ended_) return;
    if (ec) {
      End();
      return;
    }
    if (!paused_) ReadAvailable();
  });
}

void WsConnection::ReadAvailable() {
  thread_local const std::unique_ptr<char[]> chunk(new char[kReadChunk]);
  while (!ended_ && !paused_) {
    error_code ec;
    const size_t n = socket_.read_some(asio::buffer(chunk.get(), kReadChunk), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      WaitReadable();
      return;
    }
    if (ec) {  // the client went away (end of stream, reset)
      End();
      return;
    }
    received_ = true;
    if (!broken_ && !peer_closed_) Feed(std::string_view(chunk.get(), n));
    if (n < kReadChunk) {
      if (!ended_ && !paused_) WaitReadable();
      return;
    }
  }
}

void WsConnection::Feed(std::string_view data) {
  if (!in_.empty()) {
    in_.append(data);
    ParseHeld();
    return;
  }
  std::string_view rest = data;
  Parse(rest);
  if (!ended_ && !broken_ && !peer_closed_ && !rest.empty()) in_.assign(rest);
}

void WsConnection::ParseHeld() {
  std::string_view rest = in_;
  Parse(rest);
  if (ended_) return;  // End freed in_
  if (broken_ || peer_closed_) {
    std::string().swap(in_);
    return;
  }
  in_.erase(0, in_.size() - rest.size());
  if (in_.empty()) std::string().swap(in_);  // no buffer kept between frames
}

void WsConnection::Parse(std::string_view& rest) {
  WsEvent ev;
  while (!ended_ && !paused_ && !broken_ && !peer_closed_) {
    switch (parser_.Next(rest, ev)) {
      case ParseStatus::kNeedMore:
        return;
      case ParseStatus::kError:
        Fail(parser_.error_code());
        return;
      case ParseStatus::kEvent:
        OnEvent(ev);
        break;
    }
  }
}

void WsConnection::OnEvent(WsEvent& ev) {
  switch (ev.kind) {
    case WsEvent::Kind::kText:
    case WsEvent::Kind::kBinary:
      if (closing_) return;  // after our close frame, what the client still sends is dropped
      if (auto owner = Hold()) owner->OnWsMessage(ev.kind, std::move(ev.payload));
      return;
    case WsEvent::Kind::kPing:
      if (closing_) return;
      AppendWsFrame(pending_, WsOpcode::kPong, ev.payload);
      ScheduleFlush();
      return;
    case WsEvent::Kind::kPong:
      return;  // counted as traffic by the read
    case WsEvent::Kind::kClose:
      peer_closed_ = true;
      if (closing_) {
        // The answer to our close frame: done once ours is written.
        if (close_written_) End();
        return;
      }
      closing_ = true;
      close_queued_ = true;
      AppendWsClose(pending_, ev.close_code, {});  // its code echoed (section 5.5.1)
      ScheduleFlush();
      ArmTimer(close_timeout_);
      return;
  }
}

void WsConnection::Fail(uint16_t code) {
  broken_ = true;  // nothing more is parsed: the rest ends with the client's close or EOF
  if (closing_) return;
  closing_ = true;
  close_queued_ = true;
  AppendWsClose(pending_, code, {});
  ScheduleFlush();
  ArmTimer(close_timeout_);
}

void WsConnection::ScheduleFlush() {
  if (writing_ || ended_) return;
  writing_ = true;
  // Posted, so that everything queued in this turn leaves in one write.
  asio::post(socket_.get_executor(), [this, hold = Hold()] { Flush(); });
}

void WsConnection::Flush() {
  while (!ended_) {
    if (pending_.empty()) {
      writing_ = false;
      return;
    }
    in_flight_.swap(pending_);
    ++writes_;
    close_in_flight_ = close_queued_;
    close_queued_ = false;
    error_code ec;
    written_ = socket_.write_some(asio::buffer(in_flight_), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      written_ = 0;
      ec = {};
    }
    if (ec) {
      End();
      return;
    }
    if (written_ < in_flight_.size()) {
      asio::async_write(socket_, asio::buffer(in_flight_.data() + written_,
                                              in_flight_.size() - written_),
                        [this, hold = Hold()](error_code ec, size_t n) {
                          written_ += n;
                          if (ended_) return;
                          if (ec) {
                            End();
                            return;
                          }
                          if (Written()) Flush();
                        });
      return;
    }
    if (!Written()) return;
  }
}

bool WsConnection::Written() {
  written_ = 0;
  if (pending_.empty()) {
    std::string().swap(in_flight_);  // nothing kept while idle
  } else {
    in_flight_.clear();  // its capacity serves the next write
  }
  if (close_in_flight_) {
    close_in_flight_ = false;
    close_written_ = true;
    error_code ec;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ec);  // the server ends TCP first
    if (peer_closed_) {  // the handshake is complete
      End();
      return false;
    }
    // Else the client's close frame (or, after a protocol error, its end of the stream) comes
    // to the read, or close_timeout ends the wait.
  }
  if (auto owner = Hold()) owner->OnWsWritten();
  return !ended_;
}

void WsConnection::ArmTimer(std::chrono::milliseconds after) {
  timer_.expires_after(after);  // cancels a wait in progress: its handler sees operation_aborted
  timer_.async_wait([this, hold = Hold()](error_code ec) {
    if (ec || ended_) return;
    OnTimer();
  });
}

void WsConnection::OnTimer() {
  if (closing_) {  // the close handshake took too long
    End();
    return;
  }
  if (received_) {
    received_ = false;
    pinged_ = false;
  } else if (!pinged_) {
    pinged_ = true;
    AppendWsFrame(pending_, WsOpcode::kPing, {});
    ScheduleFlush();
  } else {
    End();  // nothing from the client for a whole idle_timeout, a ping unanswered
    return;
  }
  ArmTimer(idle_timeout_ / 2);
}

void WsConnection::End() {
  if (ended_) return;
  ended_ = true;
  timer_.cancel();
  error_code ec;
  socket_.close(ec);  // pending waits and writes complete with operation_aborted
  std::string().swap(in_);
  std::string().swap(pending_);
  std::string().swap(in_flight_);
  written_ = 0;
  if (auto owner = Hold()) owner->OnWsClosed();
}

}  // namespace parley::transport
