// A fixed, made-up vocabulary for message bodies that search can find: word r (its rank) is
// three syllables spelled from r's base-16 digits, lowest first, so every word is 6 lowercase
// letters, the first 4096 are distinct, and the words sharing a 4-letter prefix are those with
// the same r % 256. Ranks are drawn from a Zipf law (rank 0 most frequent), as in real text:
// common words match most messages, rare ones a few hundred in a million.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace parley::bench {

constexpr int kMaxVocabulary = 4096;

// The word of rank r, 0 <= r < kMaxVocabulary.
std::string Word(int rank);

// Samples ranks 0..n-1 with probability proportional to 1 / (rank + 1)^s.
class ZipfSampler {
 public:
  explicit ZipfSampler(int n, double s = 1.0);
  int size() const { return static_cast<int>(cumulative_.size()); }
  // The rank for a uniform draw u in [0, 1).
  int RankAt(double u) const;
  int Sample(std::mt19937_64& rng) const;
  double Probability(int rank) const;

 private:
  std::vector<double> cumulative_;  // normalised: the last is 1
};

// Appends `count` words drawn from `zipf`, separated by single spaces.
void AppendWords(std::string& out, const ZipfSampler& zipf, std::mt19937_64& rng, int count);

// Expected number of messages (of `messages`, `words` words each) that contain word `rank`.
double ExpectedMessagesWith(const ZipfSampler& zipf, int rank, int words, double messages);

}  // namespace parley::bench
