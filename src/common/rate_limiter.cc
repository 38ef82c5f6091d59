#include "common/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace parley {

namespace {
constexpr size_t kPruneAbove = 100000;  // buckets kept before idle ones are dropped
}

RateLimiter::RateLimiter(double per_minute, double burst)
    : per_second_(per_minute / 60.0), burst_(std::max(1.0, burst)) {}

int64_t RateLimiter::Allow(std::string_view key, double tokens) {
  return AllowAt(key, std::chrono::steady_clock::now(), tokens);
}

int64_t RateLimiter::AllowAt(std::string_view key, std::chrono::steady_clock::time_point now,
                             double tokens) {
  if (unlimited()) return 0;
  const double cost = std::clamp(tokens, 0.0, burst_);
  std::lock_guard lock(mu_);
  if (buckets_.size() > kPruneAbove) Prune(now);
  auto [it, fresh] = buckets_.try_emplace(std::string(key), Bucket{burst_, now});
  Bucket& b = it->second;
  if (!fresh) {
    double elapsed = std::chrono::duration<double>(now - b.at).count();
    b.tokens = std::min(burst_, b.tokens + elapsed * per_second_);
    b.at = now;
  }
  if (b.tokens >= cost) {
    b.tokens -= cost;
    return 0;
  }
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil((cost - b.tokens) / per_second_)));
}

void RateLimiter::Prune(std::chrono::steady_clock::time_point now) {
  // A bucket that would be full again carries no information: drop it.
  double refill_s = burst_ / per_second_;
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    if (std::chrono::duration<double>(now - it->second.at).count() >= refill_s) {
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
  last_prune_ = now;
}

}  // namespace parley
