// RedisRevocationList: the RevocationList of the scale-out profile. A revoked device is the key
// `P rv:d:<device_id>`, a denied access token `P rv:t:<jti>`, each with the TTL it is given; a
// check is one `EXISTS` of both keys. The keys expire on their own, so Redis holds at most the
// revocations of one access-token lifetime.
//
// Called on I/O threads (every authenticated request): give it a client with short timeouts
// (profile.cc uses 200 ms). Thread-safe.
#pragma once

#include <string>

#include "storage/cluster_state.h"
#include "storage/redis/redis_client.h"

namespace parley::storage::redis {

class RedisRevocationList final : public RevocationList {
 public:
  // `client` must outlive this.
  explicit RedisRevocationList(RedisClient& client, std::string key_prefix = "parley:")
      : client_(client), prefix_(std::move(key_prefix) + "rv:") {}

  Status RevokeDevice(std::string_view device_id, int64_t ttl_ms) override;
  Status DenyToken(std::string_view jti, int64_t ttl_ms) override;
  Result<bool> IsRevoked(std::string_view device_id, std::string_view jti) override;

 private:
  Status Put(std::string key, std::string_view id, int64_t ttl_ms);

  RedisClient& client_;
  const std::string prefix_;  // "P rv:", constant after construction
};

}  // namespace parley::storage::redis
