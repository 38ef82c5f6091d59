// CoalescingStream under a Beast WebSocket server stream, against a Beast client over a real
// socket: frames appended in one turn leave in one write and arrive whole and in order (all
// three payload-length encodings); Beast's own writes (handshake, close) go through it too.
#include "transport/coalescing_stream.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <boost/asio.hpp>
#include <boost/beast/websocket.hpp>

#include <string>
#include <vector>

namespace parley::transport {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

std::string Payload(int i) {
  if (i == 7) return std::string(300, 'm');      // 16-bit length
  if (i == 8) return std::string(70000, 'L');    // 64-bit length
  return "frame " + std::to_string(i);           // 7-bit length
}

TEST(CoalescingStream, FramesOfOneTurnLeaveInOneWriteAndArriveInOrder) {
  constexpr int kFrames = 100;
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto endpoint = acceptor.local_endpoint();
  uint64_t writes_for_frames = 0;
  size_t pending_after = 1;
  bool server_done = false;

  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    auto socket = co_await acceptor.async_accept(asio::use_awaitable);
    websocket::stream<CoalescingStream> ws(beast::tcp_stream(std::move(socket)));
    co_await ws.async_accept(asio::use_awaitable);
    co_await ws.next_layer().AsyncWaitFlushed(0);  // the handshake's answer is out
    const uint64_t before = ws.next_layer().writes();
    for (int i = 0; i < kFrames; ++i) ws.next_layer().AppendTextFrame(Payload(i));
    co_await ws.next_layer().AsyncWaitFlushed(0);
    writes_for_frames = ws.next_layer().writes() - before;
    pending_after = ws.next_layer().pending_bytes();
    // Beast's close frame goes through the stream, then the teardown after it.
    co_await ws.async_close(websocket::close_code::going_away, asio::use_awaitable);
    server_done = true;
  }, asio::detached);

  std::vector<std::string> got;
  websocket::close_reason closed_with;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    websocket::stream<beast::tcp_stream> ws(io);
    co_await beast::get_lowest_layer(ws).async_connect(endpoint, asio::use_awaitable);
    co_await ws.async_handshake("127.0.0.1", "/", asio::use_awaitable);
    ws.read_message_max(1 << 20);
    while (true) {
      beast::flat_buffer buf;
      auto [ec, n] = co_await ws.async_read(buf, asio::as_tuple(asio::use_awaitable));
      if (ec) break;
      EXPECT_TRUE(ws.got_text());
      got.push_back(beast::buffers_to_string(buf.data()));
    }
    closed_with = ws.reason();
  }, asio::detached);

  io.run_for(std::chrono::seconds(10));
  ASSERT_TRUE(server_done);
  EXPECT_EQ(writes_for_frames, 1u) << "frames appended in one turn went out in several writes";
  EXPECT_EQ(pending_after, 0u);
  ASSERT_EQ(got.size(), static_cast<size_t>(kFrames));
  for (int i = 0; i < kFrames; ++i) EXPECT_EQ(got[i], Payload(i)) << "frame " << i;
  EXPECT_EQ(closed_with.code, websocket::close_code::going_away);
}

TEST(CoalescingStream, AfterTheSocketFailsAppendsAreDroppedAndTheErrorKept) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ip::tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  CoalescingStream s(beast::tcp_stream(acceptor.accept()));
  client.set_option(asio::socket_base::linger(true, 0));
  client.close();  // the peer resets the connection: writes fail
  bool done = false;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    asio::steady_timer t(io);
    for (int i = 0; i < 50 && !s.error(); ++i) {
      s.AppendTextFrame(std::string(64 * 1024, 'x'));
      co_await s.AsyncWaitFlushed(0);
      t.expires_after(std::chrono::milliseconds(10));
      co_await t.async_wait(asio::use_awaitable);
    }
    done = true;
  }, asio::detached);
  io.run_for(std::chrono::seconds(10));
  ASSERT_TRUE(done);
  EXPECT_TRUE(s.error());
  s.AppendTextFrame("after the failure");
  EXPECT_EQ(s.pending_bytes(), 0u);
}

TEST(CoalescingStream, DestroyingItClosesTheSocketEvenWithAWriteInFlight) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ip::tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  constexpr size_t kTotal = 32 * 1024 * 1024;  // far beyond the socket buffers
  {
    CoalescingStream s(beast::tcp_stream(acceptor.accept()));
    s.AppendTextFrame(std::string(kTotal, 'x'));
    io.run_for(std::chrono::milliseconds(200));  // the write starts and stalls: nobody reads
    ASSERT_GT(s.pending_bytes(), 0u);
  }  // the session is gone; its peer must not be kept connected by the stalled write
  // Read what arrived, with a deadline (a socket kept open would block a plain read forever).
  size_t received = 0;
  bool ended = false;  // EOF or reset
  std::vector<char> buf(1 << 16);
  const int fd = client.native_handle();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!ended && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) ended = true;
    else received += static_cast<size_t>(n);
  }
  EXPECT_TRUE(ended) << "the peer stayed connected after the stream was destroyed";
  EXPECT_LT(received, kTotal) << "the stalled write went on after the stream was destroyed";
  io.run_for(std::chrono::milliseconds(50));  // the aborted write's handler frees the state
}

}  // namespace
}  // namespace parley::transport
