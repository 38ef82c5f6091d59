// PercentEncode: the one RFC 3986 percent-encoder (SigV4 paths, OpenSearch ids, SDK query values).
#include "common/encoding.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(PercentEncode, KeepsUnreservedAndEncodesEveryOtherByte) {
  EXPECT_EQ(PercentEncode("AZaz09-_.~"), "AZaz09-_.~");
  EXPECT_EQ(PercentEncode("a b/c+d=e&f"), "a%20b%2Fc%2Bd%3De%26f");
  EXPECT_EQ(PercentEncode(std::string("\x00\xff", 2)), "%00%FF");
  EXPECT_EQ(PercentEncode("\xc3\xa9"), "%C3%A9");  // UTF-8 bytes, uppercase hex
  EXPECT_EQ(PercentEncode("/bucket/key.thumb", true), "/bucket/key.thumb");
  EXPECT_EQ(PercentEncode("/a b/", true), "/a%20b/");
  EXPECT_EQ(PercentEncode(""), "");
}

}  // namespace
}  // namespace parley
