// Which addresses the server may connect to on a user's behalf (push endpoints): public unicast
// addresses, plus networks an operator allows. Checked on the resolved address the connection
// then uses, so a name cannot resolve to one address for the check and another for the connect.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <string_view>
#include <vector>

#include "common/result.h"

namespace parley {

struct Network {
  boost::asio::ip::address base;
  int prefix = 0;  // bits
};

// "10.0.0.0/8", "2001:db8::/32", or one address ("127.0.0.1" = /32, "::1" = /128).
// kInvalidArgument for anything else (a host name, bits past the base's width, set host bits).
Result<Network> ParseNetwork(std::string_view text);
bool InNetwork(const boost::asio::ip::address& a, const Network& n);

// Not loopback, private (RFC 1918, fc00::/7), link-local (169.254/16 with the cloud metadata
// address, fe80::/10), unspecified, "this network" (0/8), shared (100.64/10), IETF (192.0.0/24),
// documentation, benchmarking (198.18/15), multicast, reserved (240/4) or broadcast. IPv6 that
// carries an IPv4 address (IPv4-mapped ::ffff:0:0/96, NAT64 64:ff9b::/96, 6to4 2002::/16) is
// judged by that IPv4 address; other IPv6 must be global unicast (2000::/3).
bool IsPublicAddress(const boost::asio::ip::address& a);

// Public, or inside one of `allowed`.
bool DestinationAllowed(const boost::asio::ip::address& a, const std::vector<Network>& allowed);

}  // namespace parley
