// The HTTP server over a real socket: streaming routes get their body in chunks under their own
// limit; ordinary routes keep the whole-body limit; connections are reused only when safe.
#include "transport/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>

namespace parley::transport {
namespace {

class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Client() { ::close(fd_); }
  bool connected() const { return connected_; }
  void Send(std::string_view s) { (void)!::send(fd_, s.data(), s.size(), MSG_NOSIGNAL); }
  // One response: its head and a body of Content-Length bytes. Empty on EOF or timeout.
  std::string ReadResponse() {
    while (true) {
      size_t head_end = buf_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        size_t len = 0;
        size_t cl = buf_.find("Content-Length: ");
        if (cl != std::string::npos && cl < head_end) len = std::stoul(buf_.substr(cl + 16));
        if (buf_.size() >= head_end + 4 + len) {
          std::string r = buf_.substr(0, head_end + 4 + len);
          buf_.erase(0, head_end + 4 + len);
          return r;
        }
      }
      char tmp[65536];
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) return {};
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }
  bool Closed() {
    char c;
    return ::recv(fd_, &c, 1, 0) == 0;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.AddStreaming("POST", "/stream", Auth::kNone, 1000,
                         [this](HttpRequest& req) -> boost::asio::awaitable<HttpResponse> {
                           std::string got;
                           int reads = 0;
                           char buf[64];
                           while (true) {
                             auto n = co_await req.body_reader->Read(buf);
                             if (!n.ok()) co_return ErrorResponse(n.error());
                             if (*n == 0) break;
                             ++reads;
                             got.append(buf, *n);
                           }
                           streamed_reads_ = reads;
                           HttpResponse r = EmptyResponse(200);
                           r.body = got;
                           r.content_type = "text/plain";
                           co_return r;
                         });
    router_.AddStreaming("POST", "/ignore", Auth::kNone, 1000,
                         [](HttpRequest&) -> boost::asio::awaitable<HttpResponse> {
                           co_return EmptyResponse(204);
                         });
    router_.Add("POST", "/whole", Auth::kNone,
                [](HttpRequest& req) -> boost::asio::awaitable<HttpResponse> {
                  HttpResponse r = EmptyResponse(200);
                  r.body = std::to_string(req.body.size()) + (req.body_reader ? " reader" : "");
                  r.content_type = "text/plain";
                  co_return r;
                });
    server_ = std::make_unique<HttpServer>(HttpServerOptions{"127.0.0.1", 0, 1, 100, 5000},
                                           router_);
    auto port = server_->Start();
    ASSERT_TRUE(port.ok());
    port_ = *port;
  }
  void TearDown() override { server_->Stop(); }

  Router router_;
  std::unique_ptr<HttpServer> server_;
  uint16_t port_ = 0;
  std::atomic<int> streamed_reads_{0};
};

std::string Post(std::string_view path, std::string_view body) {
  return "POST " + std::string(path) + " HTTP/1.1\r\nHost: x\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

TEST_F(HttpServerTest, StreamingRouteGetsChunksPastTheWholeBodyLimit) {
  Client c(port_);
  ASSERT_TRUE(c.connected());
  std::string body(500, 'a');  // above the server's 100-byte limit, within the route's 1000
  c.Send(Post("/stream", body));
  std::string r = c.ReadResponse();
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_EQ(r.substr(r.size() - 500), body);
  EXPECT_GE(streamed_reads_, 8);  // 64-byte reads
  // Fully read: the connection stays usable.
  c.Send(Post("/whole", "xyz"));
  r = c.ReadResponse();
  EXPECT_NE(r.find("\r\n\r\n3"), std::string::npos) << r;
}

TEST_F(HttpServerTest, StreamingRouteChunkedBodyAndItsLimit) {
  Client c(port_);
  c.Send("POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
         "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  std::string r = c.ReadResponse();
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_EQ(r.substr(r.size() - 11), "hello world");

  Client big(port_);
  big.Send("POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (int i = 0; i < 3; ++i) big.Send("1f4\r\n" + std::string(500, 'b') + "\r\n");
  big.Send("0\r\n\r\n");
  r = big.ReadResponse();
  EXPECT_EQ(r.rfind("HTTP/1.1 413", 0), 0u) << r;
  EXPECT_NE(r.find("payload_too_large"), std::string::npos);
  EXPECT_TRUE(big.Closed());
}

TEST_F(HttpServerTest, DeclaredOversizeIs413BeforeTheBody) {
  Client c(port_);
  c.Send("POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\nExpect: 100-continue\r\n\r\n");
  std::string r = c.ReadResponse();  // no 100 Continue: the answer comes without the body
  EXPECT_EQ(r.rfind("HTTP/1.1 413", 0), 0u) << r;
  EXPECT_TRUE(c.Closed());

  Client w(port_);
  w.Send(Post("/whole", std::string(101, 'c')));  // ordinary route: the server's limit
  r = w.ReadResponse();
  EXPECT_EQ(r.rfind("HTTP/1.1 413", 0), 0u) << r;
}

TEST_F(HttpServerTest, ExpectContinueIsAnsweredWhenTheHandlerReads) {
  Client c(port_);
  c.Send("POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  std::string r = c.ReadResponse();
  EXPECT_EQ(r, "HTTP/1.1 100 Continue\r\n\r\n");
  c.Send("abcd");
  r = c.ReadResponse();
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_EQ(r.substr(r.size() - 4), "abcd");
}

TEST_F(HttpServerTest, UnreadStreamingBodyClosesTheConnection) {
  Client c(port_);
  c.Send(Post("/ignore", std::string(300, 'd')));
  std::string r = c.ReadResponse();
  EXPECT_EQ(r.rfind("HTTP/1.1 204", 0), 0u) << r;
  EXPECT_NE(r.find("Connection: close"), std::string::npos) << r;
  EXPECT_TRUE(c.Closed());
}

TEST_F(HttpServerTest, OrdinaryRoutesReadTheWholeBody) {
  Client c(port_);
  c.Send(Post("/whole", std::string(100, 'e')));
  std::string r = c.ReadResponse();
  EXPECT_NE(r.find("\r\n\r\n100"), std::string::npos) << r;
  EXPECT_EQ(r.find("reader"), std::string::npos);
  c.Send(Post("/whole", ""));
  r = c.ReadResponse();
  EXPECT_NE(r.find("\r\n\r\n0"), std::string::npos) << r;
}

}  // namespace
}  // namespace parley::transport
