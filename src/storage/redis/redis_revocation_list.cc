#include "storage/redis/redis_revocation_list.h"

namespace parley::storage::redis {

Status RedisRevocationList::Put(std::string key, std::string_view id, int64_t ttl_ms) {
  if (!ValidClusterId(id)) return MakeError(ErrorCode::kInvalidArgument, "invalid id");
  if (ttl_ms <= 0) return MakeError(ErrorCode::kInvalidArgument, "ttl must be positive");
  key.append(id);
  auto r = client_.Command({"SET", key, "1", "PX", std::to_string(ttl_ms)});
  if (!r.ok()) return r.error();
  return OkStatus();
}

Status RedisRevocationList::RevokeDevice(std::string_view device_id, int64_t ttl_ms) {
  return Put(prefix_ + "d:", device_id, ttl_ms);
}

Status RedisRevocationList::DenyToken(std::string_view jti, int64_t ttl_ms) {
  return Put(prefix_ + "t:", jti, ttl_ms);
}

Result<bool> RedisRevocationList::IsRevoked(std::string_view device_id, std::string_view jti) {
  if (!ValidClusterId(device_id) || !ValidClusterId(jti))
    return MakeError(ErrorCode::kInvalidArgument, "invalid id");
  std::string d = prefix_ + "d:";
  d.append(device_id);
  std::string t = prefix_ + "t:";
  t.append(jti);
  auto r = client_.Command({"EXISTS", d, t});
  if (!r.ok()) return r.error();
  if (r->type != RedisReply::Type::kInteger)
    return MakeError(ErrorCode::kInternal, "unexpected reply to EXISTS");
  return r->integer > 0;
}

}  // namespace parley::storage::redis
