#include "common/ids.h"

#include <gtest/gtest.h>

#include <set>

namespace parley {
namespace {

TEST(Ids, V4IsCanonicalAndRandom) {
  std::string a = NewUuidV4(), b = NewUuidV4();
  EXPECT_NE(a, b);
  ASSERT_EQ(NormalizeUuid(a), a);
  EXPECT_EQ(a[14], '4');
}

TEST(Ids, V7StrictlyIncreasesWithinOneMillisecond) {
  std::string prev = NewUuidV7();
  for (int i = 0; i < 10000; ++i) {
    std::string next = NewUuidV7();
    ASSERT_LT(prev, next);
    ASSERT_EQ(next[14], '7');
    prev = next;
  }
}

TEST(Ids, NormalizeRejectsMalformed) {
  EXPECT_FALSE(NormalizeUuid(""));
  EXPECT_FALSE(NormalizeUuid("not-a-uuid"));
  EXPECT_FALSE(NormalizeUuid("0123456789abcdef0123456789abcdef0123"));
  EXPECT_FALSE(NormalizeUuid("0123456-89ab-cdef-0123-456789abcdef0"));
  EXPECT_FALSE(NormalizeUuid("g1234567-89ab-cdef-0123-456789abcdef"));
  EXPECT_EQ(NormalizeUuid("01234567-89AB-CDEF-0123-456789ABCDEF"),
            "01234567-89ab-cdef-0123-456789abcdef");
}

TEST(Ids, DirectConversationIdIsSymmetricAndDistinct) {
  std::string a = NewUuidV4(), b = NewUuidV4(), c = NewUuidV4();
  EXPECT_EQ(DirectConversationId(a, b), DirectConversationId(b, a));
  EXPECT_NE(DirectConversationId(a, b), DirectConversationId(a, c));
  EXPECT_TRUE(IsUuid(DirectConversationId(a, b)));
  EXPECT_EQ(DirectConversationId(a, b)[14], '8');
}

}  // namespace
}  // namespace parley
