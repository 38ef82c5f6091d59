#include "storage/cached_auth_store.h"

#include <boost/json.hpp>

#include "common/log.h"
#include "common/time.h"

namespace parley::storage {

namespace {

constexpr int kEncodingVersion = 1;

std::string CacheKey(std::string_view user_id) {
  std::string k = "u:";
  k.append(user_id);
  return k;
}

}  // namespace

std::string EncodeCachedUser(const User& u) {
  boost::json::object o{{"v", kEncodingVersion},
                        {"user_id", u.user_id},
                        {"username", u.username},
                        {"display_name", u.display_name},
                        {"profile_pic_url", u.profile_pic_url},
                        {"status", u.status},
                        {"status_text", u.status_text},
                        {"created_at", u.created_at},
                        {"last_seen_at", u.last_seen_at},
                        {"is_admin", u.is_admin}};
  return boost::json::serialize(o);
}

std::optional<User> DecodeCachedUser(std::string_view s) {
  boost::system::error_code ec;
  auto v = boost::json::parse(s, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  auto str = [&](const char* name, std::string& out) {
    const auto* f = o.if_contains(name);
    if (!f || !f->is_string()) return false;
    out = std::string(f->as_string());
    return true;
  };
  auto num = [&](const char* name, int64_t& out) {
    const auto* f = o.if_contains(name);
    if (!f || !f->is_int64()) return false;
    out = f->as_int64();
    return true;
  };
  int64_t version = 0;
  User u;
  const auto* admin = o.if_contains("is_admin");
  if (!num("v", version) || version != kEncodingVersion || !str("user_id", u.user_id) ||
      u.user_id.empty() || !str("username", u.username) || !str("display_name", u.display_name) ||
      !str("profile_pic_url", u.profile_pic_url) || !str("status", u.status) ||
      !str("status_text", u.status_text) || !num("created_at", u.created_at) ||
      !num("last_seen_at", u.last_seen_at) || !admin || !admin->is_bool())
    return std::nullopt;
  u.is_admin = admin->as_bool();
  return u;
}

Result<User> CachedAuthStore::GetUser(std::string_view user_id) {
  const std::string key = CacheKey(user_id);
  if (!ValidCacheKey(key)) return inner_.GetUser(user_id);  // not an id we cache; the store decides
  if (auto cached = cache_.Get(key); cached.ok() && cached->has_value()) {
    if (auto u = DecodeCachedUser(**cached); u && u->user_id == user_id) {
      hits_.fetch_add(1, std::memory_order_relaxed);
      return *u;
    }
    (void)cache_.Delete(key);  // not ours or stale format: read the store
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  auto u = inner_.GetUser(user_id);
  if (!u.ok()) return u;
  u->password_hash.clear();
  (void)cache_.Set(key, EncodeCachedUser(*u), ttl_ms_);
  return u;
}

void CachedAuthStore::Forget(const std::string& user_id) {
  const std::string key = CacheKey(user_id);
  if (!ValidCacheKey(key)) return;
  if (Status st = cache_.Delete(key); !st.ok()) {
    int64_t now = NowMs(), last = last_warn_ms_.load();
    if (now - last >= 10'000 && last_warn_ms_.compare_exchange_strong(last, now))
      LogWarn("user cache: cannot invalidate an entry; it expires on its own",
              {{"error", st.error().message}, {"ttl_ms", ttl_ms_}});
  }
}

Done<Unit> CachedAuthStore::ForgetAfter(std::string user_id, Done<Unit> done) {
  return [this, user_id = std::move(user_id), done = std::move(done)](Result<Unit> r) {
    Forget(user_id);
    done(std::move(r));
  };
}

void CachedAuthStore::SetPresence(std::string user_id, std::string status, std::string text,
                                  int64_t last_seen_at, Done<Unit> done) {
  Forget(user_id);
  auto after = ForgetAfter(user_id, std::move(done));
  inner_.SetPresence(std::move(user_id), std::move(status), std::move(text), last_seen_at,
                     std::move(after));
}

void CachedAuthStore::SetAdmin(std::string user_id, bool admin, Done<Unit> done) {
  Forget(user_id);
  auto after = ForgetAfter(user_id, std::move(done));
  inner_.SetAdmin(std::move(user_id), admin, std::move(after));
}

}  // namespace parley::storage
