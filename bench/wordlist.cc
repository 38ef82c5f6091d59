#include "wordlist.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace parley::bench {

namespace {
constexpr const char* kSyllables[16] = {"ba", "de", "fi", "go", "ku", "la", "me", "ni",
                                        "po", "ru", "sa", "te", "vi", "zo", "ka", "mu"};
}  // namespace

std::string Word(int rank) {
  if (rank < 0 || rank >= kMaxVocabulary) throw std::out_of_range("Word: rank out of range");
  std::string w;
  for (int i = 0; i < 3; ++i, rank /= 16) w += kSyllables[rank % 16];
  return w;
}

ZipfSampler::ZipfSampler(int n, double s) {
  if (n < 1 || n > kMaxVocabulary) throw std::out_of_range("ZipfSampler: bad vocabulary size");
  cumulative_.resize(n);
  double sum = 0;
  for (int r = 0; r < n; ++r) cumulative_[r] = (sum += 1.0 / std::pow(r + 1.0, s));
  for (double& c : cumulative_) c /= sum;
  cumulative_.back() = 1.0;
}

int ZipfSampler::RankAt(double u) const {
  auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), u);
  return static_cast<int>(std::min<std::ptrdiff_t>(it - cumulative_.begin(), size() - 1));
}

int ZipfSampler::Sample(std::mt19937_64& rng) const {
  return RankAt(std::uniform_real_distribution<double>(0.0, 1.0)(rng));
}

double ZipfSampler::Probability(int rank) const {
  return rank == 0 ? cumulative_[0] : cumulative_[rank] - cumulative_[rank - 1];
}

void AppendWords(std::string& out, const ZipfSampler& zipf, std::mt19937_64& rng, int count) {
  for (int i = 0; i < count; ++i) {
    if (i > 0) out += ' ';
    out += Word(zipf.Sample(rng));
  }
}

double ExpectedMessagesWith(const ZipfSampler& zipf, int rank, int words, double messages) {
  return messages * (1.0 - std::pow(1.0 - zipf.Probability(rank), words));
}

}  // namespace parley::bench
