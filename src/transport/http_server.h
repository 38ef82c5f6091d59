// HttpServer: HTTP/1.1 and WebSocket upgrades on one port.
//
// Threading: one io_context per thread, each with its own acceptor bound to the same address with
// SO_REUSEPORT, so the kernel spreads connections over the threads and a connection lives on one
// thread for its whole life (no locks on the connection path). Handlers must never block: storage
// and hashing go to pools (common/async.h). Knows nothing of storage or of Parley's services.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "transport/router.h"

namespace parley::transport {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0 picks a free port
  int threads = 1;
  size_t max_body_bytes = 1 << 20;
  int request_timeout_ms = 30000;  // whole request, headers and body: bounds slow clients
  // A streamed body (an upload) may take longer than request_timeout_ms, but must end within
  // this, counted from its headers: however steady a slow client is, it frees its slot.
  int64_t body_deadline_ms = 3'600'000;
  // Peers (exact IP addresses) whose X-Forwarded-For is believed: a request from one of them gets
  // the header's last address as its remote_address (what the proxy saw). Anyone else's header
  // is ignored, so a client cannot choose its own rate-limit bucket.
  std::vector<std::string> trusted_proxies;
};

// Takes over a connection whose request asked for a WebSocket upgrade on a path it accepts.
using UpgradeHandler = std::function<void(boost::beast::tcp_stream stream,
                                          boost::beast::http::request<boost::beast::http::string_body> req,
                                          std::string remote_address)>;

struct HttpStats {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> responses_4xx{0};
  std::atomic<uint64_t> responses_5xx{0};
  std::atomic<int64_t> open_connections{0};
  std::atomic<int64_t> in_flight{0};  // requests read and not yet answered
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, const Router& router);
  ~HttpServer();

  void SetUpgradeHandler(std::string path, UpgradeHandler handler);
  // Binds every acceptor and starts the I/O threads. Returns the bound port.
  Result<uint16_t> Start();
  // Stops accepting; requests already on open connections are still answered, each with
  // `Connection: close`. Open connections end when their io_context stops.
  void StopAccepting();
  // Stops the I/O threads and joins them.
  void Stop();

  const HttpStats& stats() const { return stats_; }
  size_t thread_count() const { return contexts_.size(); }

 private:
  struct Impl;
  // Declared before impl_ so the acceptors in impl_ are destroyed before their io_contexts.
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::unique_ptr<Impl> impl_;
  HttpStats stats_;
};

}  // namespace parley::transport
