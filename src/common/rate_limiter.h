// RateLimiter: token buckets keyed by string (a user id, an address, a username), one limiter per
// kind of action. Allow() takes a token or says how long until one is free. Thread-safe; memory is
// bounded by pruning idle full buckets. A rate of 0 means unlimited.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace parley {

class RateLimiter {
 public:
  // `per_minute` tokens refill per minute; a full bucket holds `burst` (at least 1).
  RateLimiter(double per_minute, double burst);

  // 0 if allowed (`tokens` were taken), else the whole seconds to wait (at least 1) until that
  // many are there. A cost (bytes, say) above the burst is taken as the burst: it needs a full
  // bucket and empties it, so it is never refused forever.
  int64_t Allow(std::string_view key, double tokens = 1.0);
  int64_t AllowAt(std::string_view key, std::chrono::steady_clock::time_point now,
                  double tokens = 1.0);
  bool unlimited() const { return per_second_ <= 0; }

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point at;
  };
  void Prune(std::chrono::steady_clock::time_point now);  // requires mu_

  const double per_second_;
  const double burst_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // guarded by mu_
  std::chrono::steady_clock::time_point last_prune_;
};

}  // namespace parley
