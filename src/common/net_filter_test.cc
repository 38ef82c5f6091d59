// Push destinations: public unicast only, unless an operator allows a network.
#include "common/net_filter.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

using boost::asio::ip::make_address;

TEST(NetFilter, RefusesEveryNonPublicRange) {
  for (const char* a :
       {"127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
        "169.254.169.254", "0.0.0.0", "100.64.0.1", "192.0.0.8", "192.0.2.1", "198.18.0.1",
        "198.51.100.7", "203.0.113.9", "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::",
        "fc00::1", "fd12:3456::1", "fe80::1", "ff02::1", "2001:db8::1", "::ffff:127.0.0.1",
        "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "2002:a00:1::"}) {
    EXPECT_FALSE(IsPublicAddress(make_address(a))) << a;
    EXPECT_FALSE(DestinationAllowed(make_address(a), {})) << a;
  }
}

TEST(NetFilter, AcceptsPublicUnicast) {
  for (const char* a : {"8.8.8.8", "1.1.1.1", "172.32.0.1", "192.169.0.1", "100.128.0.1",
                        "2606:4700:4700::1111", "2a00:1450:4001::1", "::ffff:8.8.8.8",
                        "64:ff9b::808:808", "2002:808:808::1"}) {
    EXPECT_TRUE(IsPublicAddress(make_address(a))) << a;
  }
}

TEST(NetFilter, AnAllowedNetworkLetsItsAddressesThrough) {
  auto lo = ParseNetwork("127.0.0.1");
  auto ten = ParseNetwork("10.0.0.0/8");
  auto v6 = ParseNetwork("fd00::/8");
  ASSERT_TRUE(lo.ok() && ten.ok() && v6.ok());
  std::vector<Network> allowed{*lo, *ten, *v6};
  EXPECT_TRUE(DestinationAllowed(make_address("127.0.0.1"), allowed));
  EXPECT_TRUE(DestinationAllowed(make_address("::ffff:127.0.0.1"), allowed));
  EXPECT_FALSE(DestinationAllowed(make_address("127.0.0.2"), allowed));
  EXPECT_TRUE(DestinationAllowed(make_address("10.200.1.1"), allowed));
  EXPECT_TRUE(DestinationAllowed(make_address("fd12::1"), allowed));
  EXPECT_FALSE(DestinationAllowed(make_address("169.254.169.254"), allowed));
}

TEST(NetFilter, ParsesOnlyAddressesAndNetworks) {
  EXPECT_EQ(ParseNetwork("192.168.0.0/16")->prefix, 16);
  EXPECT_EQ(ParseNetwork("::1")->prefix, 128);
  EXPECT_EQ(ParseNetwork("0.0.0.0/0")->prefix, 0);
  for (const char* bad : {"localhost", "10.0.0.0/33", "10.0.0.0/", "10.1.2.3/8", "::/129", "",
                          "10.0.0.0/8x", "1.2.3"}) {
    EXPECT_FALSE(ParseNetwork(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace parley
