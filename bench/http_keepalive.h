// One persistent HTTP/1.1 connection for measured request/response load (history, search):
// requests go one at a time over the same TCP connection (keep-alive), reconnecting only when
// the server closes it. Unlike http_client.h (setup calls), the connect is not on the measured
// path once the connection is up.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <string>

#include "endpoint.h"
#include "http_client.h"
#include "result.h"

namespace parley::bench {

class KeepAliveHttp {
 public:
  KeepAliveHttp(boost::asio::io_context& io, const Endpoint& ep, std::string bearer_token)
      : stream_(io), ep_(ep), token_(std::move(bearer_token)) {}

  // GET target; on a transport failure of a reused connection, reconnects and retries once.
  boost::asio::awaitable<Result<HttpResponse>> Get(const std::string& target,
                                                   std::chrono::milliseconds timeout);
  uint64_t connects() const { return connects_; }

 private:
  boost::asio::awaitable<Result<HttpResponse>> Attempt(const std::string& target,
                                                       std::chrono::milliseconds timeout);

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  const Endpoint& ep_;
  std::string token_;
  bool connected_ = false;
  uint64_t connects_ = 0;
};

}  // namespace parley::bench
