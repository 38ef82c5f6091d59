// The paging state of one history reader: the newest page of a conversation, then pages back
// with before_seq = the oldest seq of the previous page, `pages` pages in all (or until
// has_more is false), then a new walk. Checks each page against the contract: newest first,
// gapless seqs, below before_seq, full unless has_more is false.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace parley::bench {

class HistoryWalk {
 public:
  HistoryWalk(int limit, int pages) : limit_(limit), pages_(pages) {}

  int limit() const { return limit_; }
  bool at_start() const { return page_ == 0; }  // the next request starts a new walk
  std::optional<int64_t> before_seq() const { return before_; }

  // The seqs of the page just read, in the order returned. Returns "" if it is as expected,
  // else what is wrong (the walk then restarts).
  std::string OnPage(const std::vector<int64_t>& seqs, bool has_more);
  void Restart() {
    page_ = 0;
    before_.reset();
  }

 private:
  int limit_;
  int pages_;
  int page_ = 0;
  std::optional<int64_t> before_;
};

}  // namespace parley::bench
