// Bytes from a client, as they arrive on a connection, through HttpServer's whole per-connection
// path: Beast's parser under our header limit, the 413 checks before the body, the request
// target (Boost.URL) and headers turned into an HttpRequest, the router's path matching,
// `{param}` captures and bearer-token check, buffered and streaming bodies (Expect:
// 100-continue, chunked, lingering close), keep-alive and pipelining, and the WebSocket upgrade
// hand-off.
//
// The server runs as in parleyd (its own I/O thread) on 127.0.0.1; each input is one connection:
// written whole, then half-closed, then the answer read to the end. A crash or sanitizer report
// on the server's thread aborts the process like one on the fuzzer's. A connection the server
// neither answers nor closes within kHangSeconds is reported as a hang (abort).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <span>

#include "common/log.h"
#include "transport/http_server.h"

namespace {

using namespace parley;
using namespace parley::transport;
namespace asio = boost::asio;

constexpr int kHangSeconds = 10;

// Reads the streaming body to its end or to its first error, like an upload handler.
asio::awaitable<HttpResponse> Upload(HttpRequest& req) {
  std::vector<char> buf(512);
  uint64_t total = 0;
  while (true) {
    auto got = co_await req.body_reader->Read(std::span<char>(buf));
    if (!got.ok()) co_return ErrorResponse(got.error());
    if (*got == 0) break;
    total += *got;
  }
  co_return JsonResponse(201, {{"bytes", total}});
}

// Reads only a little of the body, so the transport must close the connection after answering.
asio::awaitable<HttpResponse> UploadPartly(HttpRequest& req) {
  std::vector<char> buf(16);
  auto got = co_await req.body_reader->Read(std::span<char>(buf));
  if (!got.ok()) co_return ErrorResponse(got.error());
  co_return EmptyResponse(204);
}

asio::awaitable<HttpResponse> Echo(HttpRequest& req) {
  boost::json::object o{{"method", req.method}, {"path", req.path}, {"body", req.body}};
  boost::json::object q, p;
  for (const auto& [k, v] : req.query) q[k] = v;
  for (const auto& [k, v] : req.path_params) p[k] = v;
  o["query"] = std::move(q);
  o["params"] = std::move(p);
  if (req.principal) o["user"] = req.principal->user_id;
  co_return JsonResponse(200, o);
}

struct Server {
  Router router;
  std::unique_ptr<HttpServer> http;
  uint16_t port = 0;

  Server() {
    SetLogLevel(LogLevel::kError);
    router.SetAuthenticator([](std::string_view token) -> Result<Principal> {
      if (token == "good-token") return Principal{"u1", "d1", "j1", 0};
      return MakeError(ErrorCode::kUnauthenticated, "bad token");
    });
    router.Add("GET", "/v1/health", Auth::kNone, Echo);
    router.Add("POST", "/v1/send-message", Auth::kRequired, Echo);
    router.Add("GET", "/v1/users/{user_id}", Auth::kRequired, Echo);
    router.Add("GET", "/v1/users/{user_id}/devices/{device_id}", Auth::kOptional, Echo);
    router.Add("DELETE", "/v1/users/{user_id}", Auth::kOptional, Echo);
    router.Add("POST", "/v1/echo", Auth::kNone, Echo);
    router.AddStreaming("POST", "/v1/media/upload", Auth::kNone, 2048, Upload);
    router.AddStreaming("PUT", "/v1/media/{id}", Auth::kNone, 1 << 20, UploadPartly);
    HttpServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = 1;
    o.max_body_bytes = 1024;
    o.request_timeout_ms = 3000;
    http = std::make_unique<HttpServer>(o, router);
    // What the gateway does with a rejected upgrade, minus the write: drop the connection.
    http->SetUpgradeHandler("/v1/ws", [](boost::beast::tcp_stream, auto, std::string) {});
    auto p = http->Start();
    if (!p.ok()) {
      std::fprintf(stderr, "cannot start the server: %s\n", p.error().message.c_str());
      std::abort();
    }
    port = *p;
  }
};

Server& TheServer() {
  static Server* s = new Server();  // never destroyed: the I/O thread outlives the fuzzer loop
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Server& server = TheServer();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  timeval tv{kHangSeconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  // Closed with a reset once the answer is read: no TIME_WAIT, so long runs do not run out of
  // local ports.
  linger lg{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server.port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return 0;
  }
  size_t sent = 0;
  while (sent < size) {
    ssize_t n = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server closed early (an error answer): fine
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  char buf[4096];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      std::fprintf(stderr, "http_request: the server neither answered nor closed in %d s\n",
                   kHangSeconds);
      std::abort();
    }
    break;  // closed (or reset): the server is done with this connection
  }
  ::close(fd);
  return 0;
}
