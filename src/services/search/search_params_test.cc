// Reading GET /v1/search-messages parameters: bounds, UTF-8, defaults.
#include "services/search/search_params.h"

#include <gtest/gtest.h>

namespace parley::services {
namespace {

transport::HttpRequest Req(std::initializer_list<std::pair<std::string, std::string>> query) {
  transport::HttpRequest r;
  for (const auto& [k, v] : query) r.query[k] = v;
  return r;
}

TEST(SearchParams, DefaultsAndCanonicalIds) {
  auto p = ReadSearchParams(Req({{"q", "hello"}}));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->q, "hello");
  EXPECT_EQ(p->limit, 50);
  EXPECT_FALSE(p->conversation_id.has_value());
  p = ReadSearchParams(Req(
      {{"q", "x"}, {"limit", "200"}, {"conversation_id", "0190A3B4-C5D6-7E8F-9A0B-1C2D3E4F5A6B"}}));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->limit, 200);
  EXPECT_EQ(*p->conversation_id, "0190a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b");
  EXPECT_TRUE(ReadSearchParams(Req({{"q", std::string(256, 'a')}})).ok());
}

TEST(SearchParams, RejectsBadInput) {
  for (const auto& r :
       {Req({}), Req({{"q", ""}}), Req({{"q", std::string(257, 'a')}}), Req({{"q", "\xff"}}),
        Req({{"q", "a"}, {"limit", "0"}}), Req({{"q", "a"}, {"limit", "201"}}),
        Req({{"q", "a"}, {"limit", "x"}}), Req({{"q", "a"}, {"conversation_id", "nope"}})}) {
    auto p = ReadSearchParams(r);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace parley::services
