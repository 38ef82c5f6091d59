#include "storage/redis/redis_rate_limiter.h"

#include <sodium.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/log.h"
#include "common/time.h"

namespace parley::storage::redis {

namespace {

// KEYS: bucket. ARGV: tokens per second, burst, key TTL in ms, cost (at most the burst).
// Returns 0 or seconds to wait.
const RedisScript kTakeToken(R"lua(
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = math.min(burst, tonumber(ARGV[4]) or 1)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1])
local at = tonumber(b[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
tokens = math.min(burst, tokens + math.max(0, now - at) / 1000 * rate)
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
else
  wait = math.max(1, math.ceil((cost - tokens) / rate))
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
           'at', string.format('%.17g', now))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return wait
)lua");

constexpr size_t kMaxRawKey = 64;

std::string Arg(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string TtlMs(double per_second, double burst) {
  if (per_second <= 0) return "1000";
  double ms = std::ceil(burst / per_second * 1000.0) + 1000.0;
  return std::to_string(static_cast<int64_t>(std::min(ms, 7.0 * 24 * 3600 * 1000)));
}

// Keys are user input (addresses, usernames): bound them.
std::string BoundKey(std::string_view key) {
  if (key.size() <= kMaxRawKey) return std::string(key);
  unsigned char h[16];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                     nullptr, 0);
  char hex[sizeof h * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, h, sizeof h);
  return std::string("#") + hex;
}

}  // namespace

RedisRateLimiter::RedisRateLimiter(RedisClient& client, std::string name, double per_minute,
                                   double burst, RedisRateLimiterOptions options)
    : client_(client),
      prefix_(options.key_prefix + "rl:" + name + ":"),
      per_second_(per_minute / 60.0),
      burst_(std::max(1.0, burst)),
      rate_arg_(Arg(per_second_)),
      burst_arg_(Arg(burst_)),
      ttl_arg_(TtlMs(per_second_, burst_)),
      options_(std::move(options)),
      local_(per_minute, burst) {}

int64_t RedisRateLimiter::Allow(std::string_view key) { return Take(key, 1.0); }

int64_t RedisRateLimiter::Take(std::string_view key, double tokens) {
  if (unlimited()) return 0;
  std::string bucket = prefix_ + BoundKey(key);
  std::string cost = Arg(std::clamp(tokens, 0.0, burst_));
  // Not idempotent: a command that timed out may have taken its tokens, so it is not retried.
  auto r = client_.Eval(kTakeToken, {bucket}, {rate_arg_, burst_arg_, ttl_arg_, cost}, false);
  if (!r.ok()) return OnFailure(key, r.error(), tokens);
  if (r->type != RedisReply::Type::kInteger || r->integer < 0) {
    return OnFailure(key, MakeError(ErrorCode::kInternal, "redis: unexpected rate limit reply"),
                     tokens);
  }
  return r->integer;
}

int64_t RedisRateLimiter::OnFailure(std::string_view key, const Error& e, double tokens) {
  int64_t now = NowMs();
  int64_t last = last_warn_ms_.load();
  if (now - last >= 10000 && last_warn_ms_.compare_exchange_strong(last, now)) {
    LogWarn("redis rate limiter unavailable", {{"limiter", prefix_}, {"error", e.message}});
  }
  switch (options_.on_failure) {
    case RateLimitFailure::kFailOpen:
      return 0;
    case RateLimitFailure::kLocalBucket:
      return local_.Allow(key, tokens);
    case RateLimitFailure::kFailClosed:
      break;
  }
  return std::max<int64_t>(1, options_.closed_retry_s);
}

}  // namespace parley::storage::redis
