// CoalescingStream: a write-coalescing layer under a Beast WebSocket stream, so that every frame a
// connection queues in one event-loop turn leaves in one socket write.
//
//   websocket::stream<CoalescingStream> ws(std::move(tcp));
//   ws.next_layer().AppendTextFrame(json);   // a whole unmasked text frame (server role)
//
// Every write, Beast's own (handshake response, pong, ping, close) and AppendTextFrame's, copies
// its bytes whole into a pending buffer, in call order, so frames never interleave. The first
// append of a turn posts one flush; the flush writes everything pending with one async_write,
// and whatever was appended meanwhile goes in the next. Beast's writes complete (posted) as soon
// as their bytes are copied. Reads pass straight through to the TCP stream.
//
// Backpressure is the caller's: pending_bytes() says how much is not yet written, and
// AsyncWaitFlushed waits until it falls to a mark. After a write error every later append is
// dropped and the error is kept (error()); the read side sees the closed socket.
//
// Not thread-safe: used from the stream's executor only (one io_context thread).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace parley::transport {

class CoalescingStream {
 public:
  using executor_type = boost::beast::tcp_stream::executor_type;
  using next_layer_type = boost::beast::tcp_stream;

  explicit CoalescingStream(boost::beast::tcp_stream stream)
      : state_(std::make_shared<State>(std::move(stream))) {}
  CoalescingStream(CoalescingStream&&) = default;
  CoalescingStream& operator=(CoalescingStream&&) = delete;
  // Closes the socket: a write still in flight holds the state (and so the socket) alive, and
  // would otherwise keep a connection whose peer stopped reading open after its session ended.
  ~CoalescingStream() {
    if (!state_) return;  // moved from
    boost::beast::error_code ec;
    state_->next.socket().close(ec);
  }

  executor_type get_executor() noexcept { return state_->next.get_executor(); }
  next_layer_type& next_layer() noexcept { return state_->next; }
  const next_layer_type& next_layer() const noexcept { return state_->next; }

  template <typename MutableBufferSequence, typename ReadToken>
  auto async_read_some(const MutableBufferSequence& buffers, ReadToken&& token) {
    return state_->next.async_read_some(buffers, std::forward<ReadToken>(token));
  }

  // Copies every byte of `buffers`; completes with their size once copied (never inline).
  template <typename ConstBufferSequence, typename WriteToken>
  auto async_write_some(const ConstBufferSequence& buffers, WriteToken&& token) {
    size_t n = 0;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      boost::asio::const_buffer b(*it);
      Append(std::string_view(static_cast<const char*>(b.data()), b.size()));
      n += b.size();
    }
    return boost::asio::async_compose<WriteToken, void(boost::beast::error_code, size_t)>(
        [state = state_, n, started = false](auto& self, boost::beast::error_code = {},
                                             size_t = 0) mutable {
          if (!started) {
            started = true;
            boost::asio::post(state->next.get_executor(), std::move(self));
            return;
          }
          self.complete(state->error, state->error ? 0 : n);
        },
        token, state_->next);
  }

  // Appends one whole text frame (FIN, opcode text, no mask: the server's framing of RFC 6455
  // section 5.2) holding `payload`.
  void AppendTextFrame(std::string_view payload) {
    unsigned char head[10];
    size_t h = 0;
    head[h++] = 0x81;
    const uint64_t len = payload.size();
    if (len < 126) {
      head[h++] = static_cast<unsigned char>(len);
    } else if (len <= 0xFFFF) {
      head[h++] = 126;
      head[h++] = static_cast<unsigned char>(len >> 8);
      head[h++] = static_cast<unsigned char>(len);
    } else {
      head[h++] = 127;
      for (int shift = 56; shift >= 0; shift -= 8)
        head[h++] = static_cast<unsigned char>(len >> shift);
    }
    Append(std::string_view(reinterpret_cast<const char*>(head), h));
    Append(payload);
  }

  // Bytes appended and not yet handed to the socket completely.
  size_t pending_bytes() const { return state_->pending.size() + state_->in_flight.size(); }
  boost::beast::error_code error() const { return state_->error; }
  // Socket writes started so far (each carries everything pending at its start).
  uint64_t writes() const { return state_->writes; }

  // Waits until pending_bytes() <= `mark` (or a write error). Completes at once if it already is.
  boost::asio::awaitable<void> AsyncWaitFlushed(size_t mark) {
    auto state = state_;
    while (!state->error && pending_bytes() > mark) {
      auto [ec] = co_await state->flushed.async_wait(
          boost::asio::as_tuple(boost::asio::use_awaitable));
      (void)ec;  // cancelled: a write completed; look again
    }
  }

  // Beast's WebSocket close ends with a teardown of the next layer (found by argument-dependent
  // lookup): the TCP shutdown, once whatever is pending (the close frame) has been written.
  friend void teardown(boost::beast::role_type role, CoalescingStream& s,
                       boost::beast::error_code& ec) {
    State& st = *s.state_;
    if (!st.error && !st.writing && !st.pending.empty()) {
      boost::asio::write(st.next.socket(), boost::asio::buffer(st.pending), ec);
      st.pending.clear();
    }
    boost::beast::websocket::teardown(role, st.next.socket(), ec);
  }

  template <typename TeardownHandler>
  friend void async_teardown(boost::beast::role_type role, CoalescingStream& s,
                             TeardownHandler&& handler) {
    auto state = s.state_;
    auto op = [state, role, tearing = false](auto& self, boost::beast::error_code ec = {}) mutable {
      if (tearing) {
        self.complete(ec);
        return;
      }
      if (!state->error && state->writing) {
        // A write completing cancels the wait; a stalled one ends when Beast's close timeout
        // closes the socket (the write then fails).
        state->flushed.async_wait(std::move(self));
        return;
      }
      tearing = true;
      boost::beast::websocket::async_teardown(role, state->next.socket(), std::move(self));
    };
    boost::asio::async_compose<TeardownHandler, void(boost::beast::error_code)>(
        std::move(op), handler, state->next);
  }

 private:
  struct State {
    explicit State(boost::beast::tcp_stream s) : next(std::move(s)), flushed(next.get_executor()) {
      flushed.expires_at(boost::asio::steady_timer::time_point::max());  // only ever cancelled
    }
    boost::beast::tcp_stream next;
    std::string pending;    // appended, not yet being written
    std::string in_flight;  // being written by the current async_write
    bool writing = false;   // a flush is posted or its async_write outstanding
    uint64_t writes = 0;
    boost::beast::error_code error;
    boost::asio::steady_timer flushed;  // waits end (cancelled) whenever a write completes
  };

  void Append(std::string_view bytes) {
    State& s = *state_;
    if (s.error) return;
    s.pending.append(bytes);
    if (!s.writing) {
      s.writing = true;
      // Posted, so that everything appended in this turn goes in the same write.
      boost::asio::post(s.next.get_executor(), [state = state_] { Flush(state); });
    }
  }

  static void Flush(const std::shared_ptr<State>& state) {
    State& s = *state;
    if (s.error || s.pending.empty()) {
      s.writing = false;
      s.flushed.cancel();
      return;
    }
    s.in_flight.swap(s.pending);
    ++s.writes;
    boost::asio::async_write(s.next, boost::asio::buffer(s.in_flight),
                             [state](boost::beast::error_code ec, size_t) {
                               state->in_flight.clear();
                               if (ec) {
                                 state->error = ec;
                                 state->pending.clear();
                               }
                               state->flushed.cancel();
                               Flush(state);
                             });
  }

  std::shared_ptr<State> state_;  // shared with the write in flight, which may outlive a move
};

}  // namespace parley::transport
