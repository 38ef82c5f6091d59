#include "transport/range.h"

#include <gtest/gtest.h>

namespace parley::transport {
namespace {

using Kind = RangeDecision::Kind;

void ExpectPartial(std::string_view h, uint64_t size, uint64_t first, uint64_t last) {
  auto d = ParseRange(h, size);
  ASSERT_EQ(d.kind, Kind::kPartial) << h;
  EXPECT_EQ(d.range.first, first) << h;
  EXPECT_EQ(d.range.last, last) << h;
}

TEST(RangeTest, SingleRanges) {
  ExpectPartial("bytes=0-0", 10, 0, 0);
  ExpectPartial("bytes=2-5", 10, 2, 5);
  ExpectPartial("bytes=2-", 10, 2, 9);
  ExpectPartial("bytes=5-100", 10, 5, 9);  // end clamped
  ExpectPartial("bytes=-3", 10, 7, 9);
  ExpectPartial("bytes=-10", 10, 0, 9);
  ExpectPartial("bytes=-99", 10, 0, 9);
  ExpectPartial("BYTES=1-2", 10, 1, 2);    // unit is case-insensitive
  ExpectPartial(" bytes = 1-2 ", 10, 1, 2);
  ExpectPartial("bytes=1-2,", 10, 1, 2);   // empty list elements are allowed
  ExpectPartial("bytes=9-99999999999999999999999", 10, 9, 9);  // saturates, then clamps
  EXPECT_EQ(ParseRange("bytes=1-2", 10).range.length(), 2u);
}

TEST(RangeTest, WholeWhenAbsentOtherUnitOrSeveral) {
  EXPECT_EQ(ParseRange(std::nullopt, 10).kind, Kind::kWhole);
  EXPECT_EQ(ParseRange("items=0-1", 10).kind, Kind::kWhole);
  EXPECT_EQ(ParseRange("bytes=0-1,3-4", 10).kind, Kind::kWhole);
}

TEST(RangeTest, UnsatisfiableOrMalformed) {
  for (std::string_view h :
       {"bytes=10-", "bytes=10-20", "bytes=-0", "bytes=", "bytes=,", "bytes=-", "bytes=x",
        "bytes=1", "bytes=5-2", "bytes=a-b", "bytes=1-b", "bytes=+1-2", "bytes=-+1",
        "bytes=1 -2", "bytes=0x1-2", "bytes=1-2-3", "bytes", "garbage", "",
        "bytes=99999999999999999999999-", "bytes=0-1,x"}) {
    EXPECT_EQ(ParseRange(h, 10).kind, Kind::kUnsatisfiable) << h;
  }
  EXPECT_EQ(ParseRange("bytes=0-", 0).kind, Kind::kUnsatisfiable);  // empty file
  EXPECT_EQ(ParseRange("bytes=-5", 0).kind, Kind::kUnsatisfiable);
}

TEST(RangeTest, EtagMatching) {
  const std::string_view tag = "\"abc\"";
  EXPECT_TRUE(EtagMatches("\"abc\"", tag, true));
  EXPECT_TRUE(EtagMatches("W/\"abc\"", tag, true));
  EXPECT_TRUE(EtagMatches("\"x\", \"abc\"", tag, true));
  EXPECT_TRUE(EtagMatches("*", tag, true));
  EXPECT_FALSE(EtagMatches("\"abcd\"", tag, true));
  EXPECT_FALSE(EtagMatches("abc", tag, true));
  EXPECT_FALSE(EtagMatches("\"abc", tag, true));
  EXPECT_FALSE(EtagMatches("", tag, true));
  // Strong comparison (If-Range): weak tags and * never match.
  EXPECT_TRUE(EtagMatches("\"abc\"", tag, false));
  EXPECT_FALSE(EtagMatches("W/\"abc\"", tag, false));
  EXPECT_FALSE(EtagMatches("*", tag, false));
}

}  // namespace
}  // namespace parley::transport
