#include "storage/redis/redis_hot_cache.h"

namespace parley::storage::redis {

namespace {

Status CheckKey(std::string_view key) {
  if (!ValidCacheKey(key)) return MakeError(ErrorCode::kInvalidArgument, "invalid cache key");
  return OkStatus();
}

}  // namespace

Result<std::optional<std::string>> RedisHotCache::Get(std::string_view key) {
  if (Status st = CheckKey(key); !st.ok()) return st.error();
  auto r = client_.Command({"GET", prefix_ + std::string(key)});
  if (!r.ok()) return r.error();
  if (r->is_nil()) return std::optional<std::string>();
  if (r->type != RedisReply::Type::kString)
    return MakeError(ErrorCode::kInternal, "unexpected reply to GET");
  return std::optional<std::string>(std::move(r->str));
}

Status RedisHotCache::Set(std::string_view key, std::string_view value, int64_t ttl_ms) {
  if (Status st = CheckKey(key); !st.ok()) return st;
  if (value.size() > kMaxValueBytes)
    return MakeError(ErrorCode::kInvalidArgument, "cache value too large");
  if (ttl_ms <= 0) return MakeError(ErrorCode::kInvalidArgument, "ttl must be positive");
  auto r = client_.Command({"SET", prefix_ + std::string(key), value, "PX", std::to_string(ttl_ms)});
  if (!r.ok()) return r.error();
  return OkStatus();
}

Status RedisHotCache::Delete(std::string_view key) {
  if (Status st = CheckKey(key); !st.ok()) return st;
  auto r = client_.Command({"DEL", prefix_ + std::string(key)});
  if (!r.ok()) return r.error();
  return OkStatus();
}

}  // namespace parley::storage::redis
