// WsClient: one client WebSocket connection (Boost.Beast over plain TCP) driven by callbacks on
// an io_context that the owner runs on one thread. Connect, handshake (with extra headers, e.g.
// Authorization), then text frames in both directions until the connection ends.
//
// Heartbeats: Beast answers the server's pings, and sends its own when the connection has been
// quiet for half of idle_timeout; a connection that receives nothing for idle_timeout is closed.
// Incoming frames above max_frame_bytes close the connection (the server is bounded like any
// peer).
//
// Thread safety: none. Start, Send and Close must run on the io_context's thread (post to it).
// on_closed is called exactly once per Start, after which the client does nothing more.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "sdk/net/url.h"

namespace parley::sdk::net {

struct WsOptions {
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds idle_timeout{40'000};
  size_t max_frame_bytes = 4 * 1024 * 1024;
};

class WsClient : public std::enable_shared_from_this<WsClient> {
 public:
  struct Callbacks {
    std::function<void()> on_open;
    std::function<void(std::string text)> on_text;
    // The connection ended: kUnavailable for network failures and closes, the mapped status
    // (e.g. kUnauthenticated) when the server refused the upgrade; http_status is that status
    // (0 if none).
    std::function<void(Error error, int http_status)> on_closed;
  };

  static std::shared_ptr<WsClient> Create(boost::asio::io_context& ioc, BaseUrl base,
                                          WsOptions options);
  ~WsClient();

  void Start(std::string path, std::vector<std::pair<std::string, std::string>> headers,
             Callbacks callbacks);
  // Queues a text frame; frames go out in order.
  void Send(std::string text);
  // Starts a clean close; on_closed follows.
  void Close();

 private:
  struct Impl;
  explicit WsClient(std::unique_ptr<Impl> impl);
  void DoRead();
  void DoWrite();
  void Finish(Error error, int http_status);

  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::sdk::net
