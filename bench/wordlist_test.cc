#include "wordlist.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace parley::bench {
namespace {

TEST(WordList, WordsAreDistinctSixLowercaseLetters) {
  std::set<std::string> seen;
  for (int r = 0; r < kMaxVocabulary; ++r) {
    const std::string w = Word(r);
    ASSERT_EQ(w.size(), 6u) << r;
    for (char c : w) ASSERT_TRUE(c >= 'a' && c <= 'z') << w;
    ASSERT_TRUE(seen.insert(w).second) << "duplicate " << w;
  }
  EXPECT_EQ(Word(0), "bababa");
  EXPECT_EQ(Word(17), "dedeba");
  EXPECT_THROW(Word(kMaxVocabulary), std::out_of_range);
}

TEST(WordList, FourLetterPrefixGroupsRanksModulo256) {
  const std::string prefix = Word(300).substr(0, 4);
  int matches = 0;
  for (int r = 0; r < 2000; ++r) {
    if (Word(r).compare(0, 4, prefix) == 0) {
      ++matches;
      EXPECT_EQ(r % 256, 300 % 256);
    }
  }
  EXPECT_EQ(matches, 8);  // 44, 300, 556, ..., 1836
}

TEST(ZipfSampler, ProbabilitiesFollowTheLaw) {
  ZipfSampler z(2000);
  double total = 0;
  for (int r = 0; r < z.size(); ++r) total += z.Probability(r);
  EXPECT_NEAR(total, 1.0, 1e-9);
  EXPECT_NEAR(z.Probability(0) / z.Probability(9), 10.0, 1e-6);
  EXPECT_EQ(z.RankAt(0.0), 0);
  EXPECT_EQ(z.RankAt(0.999999999999), z.size() - 1);
}

TEST(ZipfSampler, SamplesMatchProbabilities) {
  ZipfSampler z(100);
  std::mt19937_64 rng(42);
  std::vector<int> counts(100);
  const int n = 200'000;
  for (int i = 0; i < n; ++i) ++counts[z.Sample(rng)];
  EXPECT_NEAR(counts[0] / double(n), z.Probability(0), 0.01);
  EXPECT_NEAR(counts[50] / double(n), z.Probability(50), 0.002);
}

TEST(WordList, AppendWordsAndExpectedHits) {
  ZipfSampler z(2000);
  std::mt19937_64 rng(1);
  std::string body;
  AppendWords(body, z, rng, 8);
  EXPECT_EQ(std::count(body.begin(), body.end(), ' '), 7);
  EXPECT_EQ(body.size(), 8u * 6 + 7);
  // Rank 0 is ~12% of words: in 8 words, most messages have it; the rarest are in a few hundred.
  EXPECT_GT(ExpectedMessagesWith(z, 0, 8, 1e6), 600'000);
  EXPECT_LT(ExpectedMessagesWith(z, 1999, 8, 1e6), 600);
  EXPECT_GT(ExpectedMessagesWith(z, 1999, 8, 1e6), 300);
}

}  // namespace
}  // namespace parley::bench
