// RedisHotCache: the HotCache of the scale-out profile: `GET`, `SET … PX` and `DEL` of
// `P hc:<key>`. Blocking for at most the client's command timeout: call from the blocking pool.
// Thread-safe.
#pragma once

#include <string>

#include "storage/cluster_state.h"
#include "storage/redis/redis_client.h"

namespace parley::storage::redis {

class RedisHotCache final : public HotCache {
 public:
  // `client` must outlive this.
  explicit RedisHotCache(RedisClient& client, std::string key_prefix = "parley:")
      : client_(client), prefix_(std::move(key_prefix) + "hc:") {}

  Result<std::optional<std::string>> Get(std::string_view key) override;
  Status Set(std::string_view key, std::string_view value, int64_t ttl_ms) override;
  Status Delete(std::string_view key) override;

 private:
  RedisClient& client_;
  const std::string prefix_;  // "P hc:", constant after construction
};

}  // namespace parley::storage::redis
