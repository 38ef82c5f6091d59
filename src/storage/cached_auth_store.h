// CachedAuthStore: an AuthStore that serves GetUser from a HotCache (Redis in the scale-out
// profile) and passes everything else to the store it wraps. A user's record is read on every
// direct message (does the peer exist), every profile and key-bundle fetch and every presence
// change; in the scale-out profile those reads go to Redis instead of PostgreSQL.
//
// Cache entry: key `u:<user_id>`, value a JSON object of the user's public fields, for `ttl_ms`.
// - The password hash is never put in the cache: GetUser through this store returns the user
//   with an empty password_hash (login reads GetUserByUsername, which is not cached).
// - Writes that change a user (SetPresence, SetAdmin) delete the entry before they are sent to
//   the store and again after they commit, before `done` runs (on the store's completion thread:
//   one cache call, bounded by the cache's timeout), so a client reads its own writes on any
//   node. A read that raced with the write may put the old record back; it expires after
//   `ttl_ms`, which bounds how stale a profile can be.
// - Misses are not cached (a new user is visible at once); an unavailable cache or an entry that
//   does not decode falls back to the store, never to an error.
// Thread-safe if the wrapped store and cache are.
#pragma once

#include <atomic>
#include <cstdint>

#include "storage/auth_store.h"
#include "storage/cluster_state.h"

namespace parley::storage {

class CachedAuthStore final : public AuthStore {
 public:
  static constexpr int64_t kDefaultTtlMs = 30'000;

  // `inner` and `cache` must outlive this.
  CachedAuthStore(AuthStore& inner, HotCache& cache, int64_t ttl_ms = kDefaultTtlMs)
      : inner_(inner), cache_(cache), ttl_ms_(ttl_ms) {}

  void CreateUser(User user, Done<Unit> done) override { inner_.CreateUser(std::move(user), std::move(done)); }
  Result<User> GetUser(std::string_view user_id) override;
  Result<User> GetUserByUsername(std::string_view username) override {
    return inner_.GetUserByUsername(username);
  }
  void SetPresence(std::string user_id, std::string status, std::string text, int64_t last_seen_at,
                   Done<Unit> done) override;
  void SetAdmin(std::string user_id, bool admin, Done<Unit> done) override;

  void CreateDevice(Device device, Done<Unit> done) override { inner_.CreateDevice(std::move(device), std::move(done)); }
  Result<Device> GetDevice(std::string_view device_id) override { return inner_.GetDevice(device_id); }
  Result<std::vector<Device>> ListDevices(std::string_view user_id) override { return inner_.ListDevices(user_id); }
  void RevokeDevice(std::string user_id, std::string device_id, Done<Unit> done) override {
    inner_.RevokeDevice(std::move(user_id), std::move(device_id), std::move(done));
  }
  Result<std::vector<std::string>> ListRevokedDevices() override { return inner_.ListRevokedDevices(); }
  void TouchDevice(std::string device_id, int64_t at, Done<Unit> done) override {
    inner_.TouchDevice(std::move(device_id), at, std::move(done));
  }
  void InsertRefreshToken(RefreshToken token, Done<Unit> done) override {
    inner_.InsertRefreshToken(std::move(token), std::move(done));
  }
  void RotateRefreshToken(std::string old_hash, RefreshToken next, int64_t now,
                          Done<RotateOutcome> done) override {
    inner_.RotateRefreshToken(std::move(old_hash), std::move(next), now, std::move(done));
  }
  void RevokeRefreshTokens(std::string device_id, Done<Unit> done) override {
    inner_.RevokeRefreshTokens(std::move(device_id), std::move(done));
  }
  void DenyAccessToken(std::string jti, int64_t expires_at, Done<Unit> done) override {
    inner_.DenyAccessToken(std::move(jti), expires_at, std::move(done));
  }
  Result<std::vector<std::string>> ListDeniedAccessTokens(int64_t now) override {
    return inner_.ListDeniedAccessTokens(now);
  }

  // Counters for tests and /metrics-style inspection.
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }

 private:
  void Forget(const std::string& user_id);  // best effort: a failure is logged (rate-limited)
  Done<Unit> ForgetAfter(std::string user_id, Done<Unit> done);

  AuthStore& inner_;
  HotCache& cache_;
  const int64_t ttl_ms_;
  std::atomic<uint64_t> hits_{0}, misses_{0};
  std::atomic<int64_t> last_warn_ms_{0};
};

// The cache's encoding of a user (public fields only), exposed for tests.
std::string EncodeCachedUser(const User& u);
// std::nullopt if `s` is not an encoding of a user with a non-empty user_id.
std::optional<User> DecodeCachedUser(std::string_view s);

}  // namespace parley::storage
