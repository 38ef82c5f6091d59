// WsConnection on a real loopback socket: against Beast's WebSocket client (what the SDK uses)
// and against a raw socket that breaks the protocol or stays silent.
#include "transport/ws_connection.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <atomic>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace parley::transport {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using namespace std::chrono_literals;

class TestOwner : public WsConnection::Owner, public std::enable_shared_from_this<TestOwner> {
 public:
  TestOwner(tcp::socket s, WsConnectionOptions o) : conn(std::move(s), o) {}
  void OnWsMessage(WsEvent::Kind kind, std::string payload) override {
    {
      std::lock_guard l(mu);
      messages.emplace_back(kind, payload);
    }
    ++message_count;
    if (on_message) on_message(*this, payload);
  }
  void OnWsWritten() override {}
  void OnWsClosed() override { ++closed; }
  std::vector<std::string> Texts() {
    std::lock_guard l(mu);
    std::vector<std::string> out;
    for (const auto& [k, p] : messages) out.push_back(p);
    return out;
  }

  WsConnection conn;
  std::function<void(TestOwner&, const std::string&)> on_message;  // on the I/O thread
  std::mutex mu;
  std::vector<std::pair<WsEvent::Kind, std::string>> messages;  // guarded by mu
  std::atomic<int> message_count{0};
  std::atomic<int> closed{0};
};

// A server on 127.0.0.1 running its io_context on a thread: each connection's upgrade request
// is read with Beast's HTTP parser, answered by WsAcceptResponse, and handed to a TestOwner.
// A test sets options_, on_message_ and keep_owner_, then calls Listen().
class WsConnectionTest : public ::testing::Test {
 protected:
  void Listen() {
    acceptor_.open(tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    asio::co_spawn(io_, Serve(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  bool OwnerGone() {
    std::lock_guard l(mu_);
    return !owner_ && weak_owner_.expired();
  }
  void TearDown() override { Stop(); }
  // Stops the server's thread: after it the owner can be read without locks.
  void Stop() {
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  asio::awaitable<void> Serve() {
    while (true) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      beast::tcp_stream stream(std::move(socket));
      beast::flat_buffer buffer;
      http::request<http::string_body> req;
      auto [rec, n] = co_await http::async_read(stream, buffer, req,
                                                asio::as_tuple(asio::use_awaitable));
      if (rec) continue;
      auto handshake = WsAcceptResponse(req[http::field::sec_websocket_key],
                                        req[http::field::sec_websocket_version], "test");
      if (!handshake.ok()) continue;
      auto owner = std::make_shared<TestOwner>(stream.release_socket(), options_);
      owner->on_message = on_message_;
      {
        std::lock_guard l(mu_);
        owner_ = owner;
        weak_owner_ = owner;
      }
      owner->conn.Start(owner, std::move(*handshake));
      owner.reset();
      {
        std::lock_guard l(mu_);
        if (!keep_owner_) owner_.reset();  // only the connection's own work holds it now
      }
    }
  }

  std::shared_ptr<TestOwner> Owner() {
    std::lock_guard l(mu_);
    return owner_ ? owner_ : weak_owner_.lock();
  }
  // Runs `f` on the server's thread and waits for it.
  void OnServer(std::function<void()> f) {
    std::promise<void> done;
    asio::post(io_, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }
  template <typename Pred>
  bool WaitUntil(Pred p, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!p()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }

  // A raw client: connects and completes the handshake by hand.
  tcp::socket RawClient() {
    tcp::socket s(client_io_);
    s.connect(acceptor_.local_endpoint());
    const std::string req =
        "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    asio::write(s, asio::buffer(req));
    std::string head;
    char c;
    while (head.size() < 4 || head.substr(head.size() - 4) != "\r\n\r\n") {
      asio::read(s, asio::buffer(&c, 1));
      head += c;
    }
    EXPECT_EQ(head.rfind("HTTP/1.1 101", 0), 0u) << head;
    return s;
  }
  // Reads one whole (unfragmented, unmasked) server frame: {opcode, payload}; {-1, ""} at EOF.
  static std::pair<int, std::string> ReadFrame(tcp::socket& s) {
    uint8_t h[2];
    boost::system::error_code ec;
    asio::read(s, asio::buffer(h, 2), ec);
    if (ec) return {-1, ""};
    uint64_t len = h[1] & 0x7F;
    if (len == 126) {
      uint8_t e[2];
      asio::read(s, asio::buffer(e, 2));
      len = (e[0] << 8) | e[1];
    } else if (len == 127) {
      uint8_t e[8];
      asio::read(s, asio::buffer(e, 8));
      len = 0;
      for (uint8_t b : e) len = (len << 8) | b;
    }
    std::string payload(len, '\0');
    asio::read(s, asio::buffer(payload), ec);
    return {h[0] & 0x0F, payload};
  }
  static std::string Masked(uint8_t opcode, std::string_view payload) {
    std::string f;
    f += static_cast<char>(0x80 | opcode);
    if (payload.size() < 126) {
      f += static_cast<char>(0x80 | payload.size());
    } else {
      f += static_cast<char>(0x80 | 126);
      f += static_cast<char>(payload.size() >> 8);
      f += static_cast<char>(payload.size());
    }
    f.append("\x01\x02\x03\x04", 4);
    for (size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ (1 + i % 4));
    return f;
  }

  WsConnectionOptions options_;
  std::function<void(TestOwner&, const std::string&)> on_message_;
  bool keep_owner_ = false;  // set before connecting: the test holds the owner too
  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  std::thread thread_;
  asio::io_context client_io_;
  std::mutex mu_;
  std::shared_ptr<TestOwner> owner_;  // guarded by mu_, as weak_owner_
  std::weak_ptr<TestOwner> weak_owner_;
};

std::string Payload(int i) {
  if (i == 7) return std::string(300, 'm');    // 16-bit length
  if (i == 8) return std::string(70000, 'L');  // 64-bit length
  return "frame " + std::to_string(i);
}

TEST_F(WsConnectionTest, FramesOfOneTurnLeaveInOneWriteAndArriveInOrder) {
  constexpr int kFrames = 100;
  constexpr uint64_t kUnset = ~uint64_t{0};
  std::atomic<uint64_t> writes{kUnset};
  on_message_ = [&](TestOwner& o, const std::string&) {
    const uint64_t before = o.conn.writes();
    for (int i = 0; i < kFrames; ++i) o.conn.SendText(Payload(i));
    asio::post(o.conn.get_executor(), [&o, before, &writes, self = o.shared_from_this()] {
      // The flush posted with the first frame has run by now (posted before this).
      writes = o.conn.writes() - before;
    });
  };
  Listen();
  websocket::stream<tcp::socket> ws(client_io_);
  ws.next_layer().connect(acceptor_.local_endpoint());
  ws.handshake("127.0.0.1", "/v1/ws");
  ws.read_message_max(1 << 20);
  ws.write(asio::buffer(std::string("go")));
  for (int i = 0; i < kFrames; ++i) {
    beast::flat_buffer buf;
    ws.read(buf);
    ASSERT_TRUE(ws.got_text());
    ASSERT_EQ(beast::buffers_to_string(buf.data()), Payload(i)) << "frame " << i;
  }
  ASSERT_TRUE(WaitUntil([&] { return writes != kUnset; }));
  EXPECT_EQ(writes.load(), 1u) << "frames queued in one turn went out in several writes";
  // The client closes: the server answers with the same code and ends, once.
  ws.close(websocket::close_code::normal);
  ASSERT_TRUE(WaitUntil([&] { return OwnerGone(); }))
      << "the connection's owner outlived its end";
}

TEST_F(WsConnectionTest, MessagesArriveWholeFragmentedOrNotAndPingsAreAnswered) {
  keep_owner_ = true;
  on_message_ = [](TestOwner& o, const std::string& p) {
    if (p == "last") o.conn.SendText("ok");
  };
  Listen();
  websocket::stream<tcp::socket> ws(client_io_);
  ws.next_layer().connect(acceptor_.local_endpoint());
  ws.handshake("127.0.0.1", "/v1/ws");
  bool ponged = false;
  ws.control_callback([&](websocket::frame_type kind, std::string_view payload) {
    if (kind == websocket::frame_type::pong && payload == "p1") ponged = true;
  });
  ws.write(asio::buffer(std::string("first")));
  ws.write(asio::buffer(std::string(70000, 'x')));
  ws.auto_fragment(true);
  ws.write_buffer_bytes(256);  // 1,000 bytes leave as 4 fragments
  ws.write(asio::buffer(std::string(1000, 'f')));
  ws.auto_fragment(false);
  ws.binary(true);
  ws.write(asio::buffer(std::string("\xff\x00\x01", 3)));
  ws.ping("p1");
  ws.text(true);
  ws.write(asio::buffer(std::string("last")));
  beast::flat_buffer buf;
  ws.read(buf);  // "ok", after the pong (the ping went before "last")
  EXPECT_EQ(beast::buffers_to_string(buf.data()), "ok");
  EXPECT_TRUE(ponged) << "no pong for the client's ping";
  ws.close(websocket::close_code::normal);
  ASSERT_TRUE(WaitUntil([&] { return Owner()->closed == 1; }));
  Stop();
  auto o = Owner();
  ASSERT_EQ(o->messages.size(), 5u);
  EXPECT_EQ(o->messages[0].second, "first");
  EXPECT_EQ(o->messages[1].second, std::string(70000, 'x'));
  EXPECT_EQ(o->messages[2].second, std::string(1000, 'f'));
  EXPECT_EQ(o->messages[3].first, WsEvent::Kind::kBinary);
  EXPECT_EQ(o->messages[3].second, std::string("\xff\x00\x01", 3));
  EXPECT_EQ(o->messages[4].second, "last");
  EXPECT_EQ(o->conn.buffered_capacity(), 0u);
}

TEST_F(WsConnectionTest, ServerCloseCarriesItsCodeAndReasonAndLaterFramesAreDropped) {
  on_message_ = [](TestOwner& o, const std::string&) {
    o.conn.SendText("before");
    o.conn.Close(4001, "device revoked");
    o.conn.SendText("after");  // dropped
  };
  Listen();
  websocket::stream<tcp::socket> ws(client_io_);
  ws.next_layer().connect(acceptor_.local_endpoint());
  ws.handshake("127.0.0.1", "/v1/ws");
  ws.write(asio::buffer(std::string("hi")));
  std::vector<std::string> got;
  beast::error_code ec;
  while (!ec) {
    beast::flat_buffer buf;
    ws.read(buf, ec);
    if (!ec) got.push_back(beast::buffers_to_string(buf.data()));
  }
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(got, std::vector<std::string>{"before"});
  EXPECT_EQ(ws.reason().code, 4001);
  EXPECT_EQ(ws.reason().reason, "device revoked");
  ASSERT_TRUE(WaitUntil([&] { return OwnerGone(); }));
}

TEST_F(WsConnectionTest, ABrokenRuleOrATooLargeMessageGetsItsCloseCode) {
  options_.max_message_bytes = 100;
  Listen();
  {
    tcp::socket s = RawClient();
    std::string unmasked = "\x81\x02hi";
    asio::write(s, asio::buffer(unmasked));
    auto [op, body] = ReadFrame(s);
    ASSERT_EQ(op, 0x8);
    ASSERT_GE(body.size(), 2u);
    EXPECT_EQ((static_cast<uint8_t>(body[0]) << 8) | static_cast<uint8_t>(body[1]), 1002);
    EXPECT_EQ(ReadFrame(s).first, -1) << "the server ends the stream after its close frame";
  }
  {
    tcp::socket s = RawClient();
    asio::write(s, asio::buffer(Masked(0x1, std::string(200, 'a'))));
    auto [op, body] = ReadFrame(s);
    ASSERT_EQ(op, 0x8);
    EXPECT_EQ((static_cast<uint8_t>(body[0]) << 8) | static_cast<uint8_t>(body[1]), 1009);
    EXPECT_EQ(ReadFrame(s).first, -1);
  }
  ASSERT_TRUE(WaitUntil([&] { return OwnerGone(); }));
}

TEST_F(WsConnectionTest, ASilentClientIsPingedThenDropped) {
  options_.idle_timeout = 400ms;
  Listen();
  tcp::socket s = RawClient();
  const auto start = std::chrono::steady_clock::now();
  auto [op, body] = ReadFrame(s);
  EXPECT_EQ(op, 0x9) << "a ping after a quiet half of the idle timeout";
  EXPECT_EQ(ReadFrame(s).first, -1) << "then dropped";
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 350ms);
  EXPECT_LT(took, 1500ms);
  ASSERT_TRUE(WaitUntil([&] { return OwnerGone(); }));
}

TEST_F(WsConnectionTest, AClientThatAnswersPingsStaysConnected) {
  options_.idle_timeout = 300ms;
  keep_owner_ = true;
  Listen();
  websocket::stream<tcp::socket> ws(client_io_);
  ws.next_layer().connect(acceptor_.local_endpoint());
  ws.handshake("127.0.0.1", "/v1/ws");
  // Beast answers pings while it reads; the server sends nothing else, so the read waits.
  std::thread reader([&] {
    beast::flat_buffer buf;
    beast::error_code ec;
    ws.read(buf, ec);
  });
  std::this_thread::sleep_for(1200ms);  // four idle timeouts
  auto o = Owner();
  int closed = o->closed;
  EXPECT_EQ(closed, 0) << "closed although the client answered every ping";
  OnServer([&] { o->conn.Close(1000, "done"); });
  reader.join();
}

TEST_F(WsConnectionTest, PausedReadingHoldsMessagesUntilResumed) {
  keep_owner_ = true;
  on_message_ = [](TestOwner& o, const std::string& p) {
    if (p == "0") o.conn.PauseReading();
  };
  Listen();
  tcp::socket s = RawClient();
  std::string frames;
  for (int i = 0; i < 5; ++i) frames += Masked(0x1, std::to_string(i));
  asio::write(s, asio::buffer(frames));
  ASSERT_TRUE(WaitUntil([&] { return Owner() && Owner()->message_count >= 1; }));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(Owner()->message_count, 1) << "messages handed over while paused";
  OnServer([&] { Owner()->conn.ResumeReading(); });
  ASSERT_TRUE(WaitUntil([&] { return Owner()->message_count == 5; }));
  EXPECT_EQ(Owner()->Texts(), (std::vector<std::string>{"0", "1", "2", "3", "4"}));
}

TEST_F(WsConnectionTest, AWriteThatNeverDrainsEndsAtTheCloseTimeout) {
  options_.close_timeout = 300ms;
  keep_owner_ = true;
  Listen();
  tcp::socket s = RawClient();  // never reads again
  ASSERT_TRUE(WaitUntil([&] { return Owner() != nullptr; }));
  OnServer([&] {
    for (int i = 0; i < 512; ++i) Owner()->conn.SendText(std::string(64 * 1024, 'x'));  // 32 MiB
  });
  std::this_thread::sleep_for(200ms);
  size_t pending = 0;
  OnServer([&] { pending = Owner()->conn.pending_bytes(); });
  ASSERT_GT(pending, 0u) << "the write should be stalled on the client's full window";
  OnServer([&] { Owner()->conn.Close(1008, "client too slow"); });
  ASSERT_TRUE(WaitUntil([&] { return Owner()->closed == 1; }, 3s))
      << "a close stuck behind a stalled write must end at close_timeout";
  OnServer([&] { pending = Owner()->conn.buffered_capacity(); });
  EXPECT_EQ(pending, 0u) << "an ended connection frees its buffers";
}

}  // namespace
}  // namespace parley::transport
