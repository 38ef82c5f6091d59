// Running one asynchronous Asio/Beast operation to completion on a private io_context, so that
// beast::tcp_stream's per-operation deadlines (which apply only to async operations) bound
// otherwise synchronous code. detail: not part of any contract.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/error.hpp>

namespace parley::sdk::net::detail {

// Calls start(handler) and runs `ioc` until the operation (and anything it started) finishes.
// The handler accepts (error_code, anything…).
template <typename Start>
boost::beast::error_code RunOp(boost::asio::io_context& ioc, Start&& start) {
  boost::beast::error_code out;
  start([&out](boost::beast::error_code ec, auto&&...) { out = ec; });
  ioc.restart();
  ioc.run();
  return out;
}

}  // namespace parley::sdk::net::detail
