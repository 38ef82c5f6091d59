// Where the server is: parsed from --url, resolved, and checked to be a loopback address.
// The bench refuses anything else so that it can never be pointed at someone else's server.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <string>

#include "result.h"

namespace parley::bench {

struct Endpoint {
  std::string host;  // as given, for the Host header
  uint16_t port = 0;
  boost::asio::ip::tcp::endpoint address;  // resolved, loopback
  std::string host_header() const {
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }
};

// Parses "http://HOST:PORT" (or "HOST:PORT"); HOST must resolve to loopback addresses only.
Result<Endpoint> ResolveLoopback(const std::string& url);

}  // namespace parley::bench
