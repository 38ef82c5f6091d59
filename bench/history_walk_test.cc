#include "history_walk.h"

#include <gtest/gtest.h>

namespace parley::bench {
namespace {

std::vector<int64_t> Page(int64_t newest, int n) {
  std::vector<int64_t> v;
  for (int i = 0; i < n; ++i) v.push_back(newest - i);
  return v;
}

TEST(HistoryWalk, PagesBackThenRestarts) {
  HistoryWalk w(50, 3);
  EXPECT_TRUE(w.at_start());
  EXPECT_FALSE(w.before_seq());
  EXPECT_EQ(w.OnPage(Page(1000, 50), true), "");
  EXPECT_EQ(w.before_seq(), 951);
  EXPECT_EQ(w.OnPage(Page(950, 50), true), "");
  EXPECT_EQ(w.before_seq(), 901);
  EXPECT_EQ(w.OnPage(Page(900, 50), true), "");  // third page: the walk is over
  EXPECT_TRUE(w.at_start());
  EXPECT_FALSE(w.before_seq());
}

TEST(HistoryWalk, EndOfConversationRestarts) {
  HistoryWalk w(50, 100);
  EXPECT_EQ(w.OnPage(Page(60, 50), true), "");
  EXPECT_EQ(w.OnPage(Page(10, 10), false), "");
  EXPECT_TRUE(w.at_start());
}

TEST(HistoryWalk, FlagsContractViolations) {
  HistoryWalk w(50, 100);
  EXPECT_NE(w.OnPage(Page(100, 49), true), "");          // short page with has_more
  EXPECT_TRUE(w.at_start());
  EXPECT_EQ(w.OnPage(Page(100, 50), true), "");
  EXPECT_NE(w.OnPage(Page(40, 50), true), "");           // should start at 50
  std::vector<int64_t> gap = Page(100, 50);
  gap[10] = 5;
  EXPECT_NE(w.OnPage(gap, true), "");
  EXPECT_NE(w.OnPage({}, true), "");
  EXPECT_NE(w.OnPage(Page(100, 51), true), "");          // longer than the limit
}

}  // namespace
}  // namespace parley::bench
