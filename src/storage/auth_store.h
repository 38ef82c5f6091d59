// AuthStore: users, devices, refresh tokens and denied access tokens.
//
// Reads are synchronous and thread-safe; call them from a blocking pool, never an I/O thread.
// Writes are asynchronous: `done` runs on the store's completion thread after the commit, in commit
// order, and must not block. Errors: kUnavailable when the store cannot commit; per method below.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "storage/model.h"

namespace parley::storage {

class AuthStore {
 public:
  virtual ~AuthStore() = default;

  // Inserts a user. kConflict if the (lowercase) username is taken.
  virtual void CreateUser(User user, Done<Unit> done) = 0;
  // kNotFound if absent.
  virtual Result<User> GetUser(std::string_view user_id) = 0;
  virtual Result<User> GetUserByUsername(std::string_view username) = 0;
  // Stores the status a user chose and when they were last seen (0 leaves it unchanged).
  virtual void SetPresence(std::string user_id, std::string status, std::string text,
                           int64_t last_seen_at, Done<Unit> done) = 0;

  // Grants or withdraws the admin role. kNotFound if no such user.
  virtual void SetAdmin(std::string user_id, bool admin, Done<Unit> done) = 0;

  // Inserts a device and starts its per-conversation delivery cursors at "now", so a new device
  // is not flooded with old history as pending (history stays readable).
  virtual void CreateDevice(Device device, Done<Unit> done) = 0;
  // kNotFound if absent (revoked devices are returned, with revoked = true).
  virtual Result<Device> GetDevice(std::string_view device_id) = 0;
  // Active (not revoked) devices of a user, oldest first.
  virtual Result<std::vector<Device>> ListDevices(std::string_view user_id) = 0;
  // Revokes a device of `user_id` with its refresh tokens and keys. kNotFound if the device
  // is not that user's or is already revoked.
  virtual void RevokeDevice(std::string user_id, std::string device_id, Done<Unit> done) = 0;
  virtual Result<std::vector<std::string>> ListRevokedDevices() = 0;
  virtual void TouchDevice(std::string device_id, int64_t at, Done<Unit> done) = 0;

  virtual void InsertRefreshToken(RefreshToken token, Done<Unit> done) = 0;
  // Marks `old_hash` used and inserts `next` for the same device, atomically. If `old_hash` was
  // already used, revokes every refresh token of its device and reports kReused (committed: the
  // revocation must stick). Not an error: every outcome is a value.
  virtual void RotateRefreshToken(std::string old_hash, RefreshToken next, int64_t now,
                                  Done<RotateOutcome> done) = 0;
  virtual void RevokeRefreshTokens(std::string device_id, Done<Unit> done) = 0;

  // Remembers an access token id as revoked until it expires.
  virtual void DenyAccessToken(std::string jti, int64_t expires_at, Done<Unit> done) = 0;
  virtual Result<std::vector<std::string>> ListDeniedAccessTokens(int64_t now) = 0;
};

}  // namespace parley::storage
