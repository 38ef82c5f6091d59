#include "history_walk.h"

namespace parley::bench {

std::string HistoryWalk::OnPage(const std::vector<int64_t>& seqs, bool has_more) {
  std::string problem;
  if (seqs.empty()) {
    if (has_more) problem = "empty page with has_more";
  } else if (before_ && seqs.front() != *before_ - 1) {
    problem = "page before_seq=" + std::to_string(*before_) + " starts at seq " +
              std::to_string(seqs.front());
  } else if (static_cast<int>(seqs.size()) > limit_) {
    problem = "page longer than limit";
  } else if (static_cast<int>(seqs.size()) < limit_ && has_more) {
    problem = "short page (" + std::to_string(seqs.size()) + ") with has_more";
  } else {
    for (size_t i = 1; i < seqs.size() && problem.empty(); ++i) {
      if (seqs[i] != seqs[i - 1] - 1) {
        problem = "seqs not newest first and gapless: " + std::to_string(seqs[i - 1]) + " then " +
                  std::to_string(seqs[i]);
      }
    }
  }
  if (!problem.empty() || seqs.empty() || !has_more || ++page_ >= pages_) {
    Restart();
  } else {
    before_ = seqs.back();
  }
  return problem;
}

}  // namespace parley::bench
