// RedisRateLimiter: a SharedRateLimiter whose token buckets live in Redis, so a limit holds across
// all nodes. One limiter per kind of action, like RateLimits in services/context.h.
//
// Bucket of `key`: hash P rl:<name>:<key> {tokens, at}, updated atomically by a Lua script that
// reads the clock of the Redis server (TIME), so node clocks do not matter. The key expires once
// the bucket would be full again (a missing bucket is a full one). Keys longer than 64 bytes are
// replaced by a hash of them.
//
// When Redis cannot answer (down, timeout), `on_failure` decides:
//   kFailClosed   refuse: Allow() returns `closed_retry_s`. Use for login and signup: an attacker
//                 who can take Redis down must not also lift the limits on password guessing.
//   kFailOpen     allow everything.
//   kLocalBucket  fall back to a bucket in this process (a per-node limit). Use for send and
//                 upload: the service keeps working with a looser limit.
// Failures are logged at most once every 10 s, without keys. Thread-safe.
#pragma once

#include <atomic>
#include <string>

#include "common/rate_limiter.h"
#include "storage/cluster_state.h"
#include "storage/redis/redis_client.h"

namespace parley::storage::redis {

enum class RateLimitFailure { kFailClosed, kFailOpen, kLocalBucket };

struct RedisRateLimiterOptions {
  RateLimitFailure on_failure = RateLimitFailure::kFailClosed;
  int64_t closed_retry_s = 5;
  std::string key_prefix = "parley:";
};

class RedisRateLimiter final : public SharedRateLimiter {
 public:
  // `client` must outlive the limiter. `name` ([A-Za-z0-9._-]) tells limiters apart, e.g.
  // "login_addr". `per_minute` tokens refill per minute; a full bucket holds `burst` (at least 1).
  RedisRateLimiter(RedisClient& client, std::string name, double per_minute, double burst,
                   RedisRateLimiterOptions options = {});

  int64_t Allow(std::string_view key) override;
  int64_t Take(std::string_view key, double tokens) override;
  bool unlimited() const override { return per_second_ <= 0; }

 private:
  int64_t OnFailure(std::string_view key, const Error& e, double tokens);

  RedisClient& client_;
  const std::string prefix_;  // "P rl:<name>:", constant after construction
  const double per_second_;
  const double burst_;
  const std::string rate_arg_, burst_arg_, ttl_arg_;  // script arguments, constant
  const RedisRateLimiterOptions options_;
  RateLimiter local_;  // kLocalBucket only
  std::atomic<int64_t> last_warn_ms_{0};
};

}  // namespace parley::storage::redis
