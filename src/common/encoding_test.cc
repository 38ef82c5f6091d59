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

TEST(Encoding, Utf8IsCheckedStrictly) {
  EXPECT_TRUE(IsUtf8("plain ascii"));
  EXPECT_TRUE(IsUtf8("Ünïcode ПРИВЕТ 日本 😀"));
  EXPECT_TRUE(IsUtf8(""));
  EXPECT_FALSE(IsUtf8("\xc3"));              // truncated
  EXPECT_FALSE(IsUtf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(IsUtf8("\xe0\x80\xaf"));      // overlong
  EXPECT_FALSE(IsUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(IsUtf8("\x80"));              // stray continuation
  EXPECT_FALSE(IsUtf8("a\xe2\x82"));         // truncated at the end
  EXPECT_TRUE(IsUtf8("\xf4\x8f\xbf\xbf"));   // U+10FFFF
}

}  // namespace
}  // namespace parley
