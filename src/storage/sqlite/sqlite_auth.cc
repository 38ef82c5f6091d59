// SqliteStore: AuthStore methods.
#include "storage/sqlite/sqlite_store.h"

namespace parley::storage::sqlite {
namespace {

constexpr const char* kUserColumns =
    "user_id, username, display_name, password_hash, profile_pic_url, status, status_text, "
    "created_at, last_seen_at, is_admin";

User ReadUser(const Stmt& s) {
  User u;
  u.user_id = s.Text(0);
  u.username = s.Text(1);
  u.display_name = s.Text(2);
  u.password_hash = s.Text(3);
  u.profile_pic_url = s.Text(4);
  u.status = s.Text(5);
  u.status_text = s.Text(6);
  u.created_at = s.Int(7);
  u.last_seen_at = s.Int(8);
  u.is_admin = s.Int(9) != 0;
  return u;
}

Device ReadDevice(const Stmt& s) {
  Device d;
  d.device_id = s.Text(0);
  d.user_id = s.Text(1);
  d.device_name = s.Text(2);
  d.created_at = s.Int(3);
  d.last_seen_at = s.Int(4);
  d.revoked = !s.IsNull(5);
  return d;
}

Result<User> OneUser(Stmt& s) {
  auto row = s.Step();
  if (!row.ok()) return row.error();
  if (!*row) return MakeError(ErrorCode::kNotFound, "no such user");
  return ReadUser(s);
}

}  // namespace

void SqliteStore::CreateUser(User user, Done<Unit> done) {
  writer_->Submit<Unit>(
      [user = std::move(user)](SqliteConn& c) -> Result<Unit> {
        Stmt s = c.Prepare(
            "INSERT INTO users(user_id, username, display_name, password_hash, created_at, "
            "is_admin) VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING");
        auto r = s.Bind(1, user.user_id)
                     .Bind(2, user.username)
                     .Bind(3, user.display_name)
                     .Bind(4, user.password_hash)
                     .Bind(5, user.created_at)
                     .Bind(6, int64_t{user.is_admin})
                     .Run();
        if (!r.ok()) return r.error();
        if (*r == 0) return MakeError(ErrorCode::kConflict, "username is taken");
        return Unit{};
      },
      std::move(done));
}

Result<User> SqliteStore::GetUser(std::string_view user_id) {
  auto c = Reader();
  if (!c.ok()) return c.error();
  Stmt s = (*c)->Prepare(
      "SELECT user_id, username, display_name, password_hash, profile_pic_url, status, "
      "status_text, created_at, last_seen_at, is_admin FROM users WHERE user_id = ?");
  s.Bind(1, user_id);
  return OneUser(s);
}

Result<User> SqliteStore::GetUserByUsername(std::string_view username) {
  auto c = Reader();
  if (!c.ok()) return c.error();
  Stmt s = (*c)->Prepare(
      "SELECT user_id, username, display_name, password_hash, profile_pic_url, status, "
      "status_text, created_at, last_seen_at, is_admin FROM users WHERE username = ?");
  s.Bind(1, username);
  return OneUser(s);
}

void SqliteStore::SetPresence(std::string user_id, std::string status, std::string text,
                              int64_t last_seen_at, Done<Unit> done) {
  writer_->Submit<Unit>(
      [=](SqliteConn& c) -> Result<Unit> {
        Stmt s = c.Prepare(
            "UPDATE users SET status = ?, status_text = ?, "
            "last_seen_at = CASE WHEN ? > 0 THEN ? ELSE last_seen_at END WHERE user_id = ?");
        auto r = s.Bind(1, status).Bind(2, text).Bind(3, last_seen_at).Bind(4, last_seen_at)
                     .Bind(5, user_id).Run();
        if (!r.ok()) return r.error();
        return Unit{};
      },
      std::move(done));
}

void SqliteStore::CreateDevice(Device device, Done<Unit> done) {
  writer_->Submit<Unit>(
      [device = std::move(device)](SqliteConn& c) -> Result<Unit> {
        Stmt s = c.Prepare(
            "INSERT INTO devices(device_id, user_id, device_name, created_at, last_seen_at) "
            "VALUES (?,?,?,?,?)");
        auto r = s.Bind(1, device.device_id).Bind(2, device.user_id).Bind(3, device.device_name)
                     .Bind(4, device.created_at).Bind(5, device.created_at).Run();
        if (!r.ok()) return r.error();
        // A new device starts caught up: what was sent before it existed is history, not pending.
        Stmt cur = c.Prepare(
            "INSERT INTO device_cursors(device_id, conversation_id, delivered_seq) "
            "SELECT ?, m.conversation_id, c.last_seq FROM conversation_members m "
            "JOIN conversations c ON c.conversation_id = m.conversation_id "
            "WHERE m.user_id = ? AND m.left_seq IS NULL");
        auto r2 = cur.Bind(1, device.device_id).Bind(2, device.user_id).Run();
        if (!r2.ok()) return r2.error();
        return Unit{};
      },
      std::move(done));
}

Result<Device> SqliteStore::GetDevice(std::string_view device_id) {
  auto c = Reader();
  if (!c.ok()) return c.error();
  Stmt s = (*c)->Prepare(
      "SELECT device_id, user_id, device_name, created_at, last_seen_at, revoked_at "
      "FROM devices WHERE device_id = ?");
  s.Bind(1, device_id);
  auto row = s.Step();
  if (!row.ok()) return row.error();
  if (!*row) return MakeError(ErrorCode::kNotFound, "no such device");
  return ReadDevice(s);
}

Result<std::vector<Device>> SqliteStore::ListDevices(std::string_view user_id) {
  auto c = Reader();
  if (!c.ok()) return c.error();
  Stmt s = (*c)->Prepare(
      "SELECT device_id, user_id, device_name, created_at, last_seen_at, revoked_at "
      "FROM devices WHERE user_id = ? AND revoked_at IS NULL ORDER BY created_at, device_id");
  s.Bind(1, user_id);
  std::vector<Device> out;
  while (true) {
    auto row = s.Step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(ReadDevice(s));
  }
  return out;
}

void SqliteStore::RevokeDevice(std::string user_id, std::string device_id, Done<Unit> done) {
  writer_->Submit<Unit>(
      [=](SqliteConn& c) -> Result<Unit> {
        int64_t now = static_cast<int64_t>(time(nullptr)) * 1000;
        Stmt s = c.Prepare(
            "UPDATE devices SET revoked_at = ? WHERE device_id = ? AND user_id = ? "
            "AND revoked_at IS NULL");
        auto r = s.Bind(1, now).Bind(2, device_id).Bind(3, user_id).Run();
        if (!r.ok()) return r.error();
        if (*r == 0) return MakeError(ErrorCode::kNotFound, "no such device");
        for (const char* sql :
             {"UPDATE refresh_tokens SET revoked_at = ?1 WHERE device_id = ?2 AND revoked_at IS NULL",
              "DELETE FROM device_keys WHERE device_id = ?2 AND ?1 = ?1",
              "DELETE FROM one_time_prekeys WHERE device_id = ?2 AND ?1 = ?1",
              "DELETE FROM to_device WHERE to_device_id = ?2 AND ?1 = ?1",
              "DELETE FROM device_cursors WHERE device_id = ?2 AND ?1 = ?1"}) {
          Stmt d = c.Prepare(sql);
          auto rr = d.Bind(1, now).Bind(2, device_id).Run();
          if (!rr.ok()) return rr.error();
        }
        return Unit{};
      },
      std::move(done));
}

Result<std::vector<std::string>> SqliteStore::ListRevokedDevices() {
  auto c = Reader();
  if (!c.ok()) return c.error();
  Stmt s = (*c)->Prepare("SELECT device_id FROM devices WHERE revoked_at IS NOT NULL");
  return s.Texts();
}

void SqliteStore::TouchDevice(std::string device_id, int64_t at, Done<Unit> done) {
  writer_->Submit<Unit>(
      [=](SqliteConn& c) -> Result<Unit> {
        Stmt s = c.Prepare("UPDATE devices SET last_seen_at = ? WHERE device_id = ?");
        auto r = s.Bind(1, at).Bind(2, device_id).Run();
        if (!r.ok()) return r.error();
        return Unit{};
      },
      std::move(done));
}

void SqliteStore::InsertRefreshToken(RefreshToken t, Done<Unit> done) {
  writer_->Submit<Unit>(
      [t = std::move(t)](SqliteConn& c) -> Result<Unit> {
        Stmt s = c.Prepare(
            "INSERT INTO refresh_tokens(token_hash, user_id, device_id, created_at, expires_at) "
            "VALUES (?,?,?,?,?)");
        auto r = s.BindBlob(1, t.token_hash).Bind(2, t.user_id).Bind(3, t.device_id)
                     .Bind(4, t.created_at).Bind(5, t.expires_at).Run();
        if (!r.ok()) return r.error();
        return Unit{};
      },
      std::move(done));
}

void SqliteStore::RotateRefreshToken(std::string old_hash, RefreshToken next, int64_t now,
                                     Done<RotateOutcome> done) {
  writer_->Submit<RotateOutcome>(
      [old_hash = std::move(old_hash), next = std::move(next), now](
          SqliteConn& c) -> Result<RotateOutcome> {
        RotateOutcome out;
        int64_t expires_at = 0;
        bool used = false, revoked = false;
        {
          Stmt s = c.Prepare(
              "SELECT user_id, device_id, expires_at, used_at, revoked_at FROM refresh_tokens "
              "WHERE token_hash = ?");
          s.BindBlob(1, old_hash);
          auto row = s.Step();
          if (!row.ok()) return row.error();
          if (!*row) return out;  // kUnknown
          out.user_id = s.Text(0);
          out.device_id = s.Text(1);
          expires_at = s.Int(2);
          used = !s.IsNull(3);
          revoked = !s.IsNull(4);
        }
        if (used) {
          // Reuse: someone holds a copy. Revoke the whole family (every token of the device).
          Stmt r = c.Prepare(
              "UPDATE refresh_tokens SET revoked_at = ? WHERE device_id = ? AND revoked_at IS NULL");
          auto rr = r.Bind(1, now).Bind(2, out.device_id).Run();
          if (!rr.ok()) return rr.error();
          out.kind = RotateOutcome::Kind::kReused;
          return out;
        }
        if (revoked) {
          out.kind = RotateOutcome::Kind::kRevoked;
          return out;
        }
        if (expires_at <= now) {
          out.kind = RotateOutcome::Kind::kExpired;
          return out;
        }
        Stmt dev = c.Prepare("SELECT revoked_at FROM devices WHERE device_id = ?");
        dev.Bind(1, out.device_id);
        auto drow = dev.Step();
        if (!drow.ok()) return drow.error();
        if (!*drow || !dev.IsNull(0)) {
          out.kind = RotateOutcome::Kind::kRevoked;
          return out;
        }
        Stmt u = c.Prepare("UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ?");
        auto ur = u.Bind(1, now).BindBlob(2, old_hash).Run();
        if (!ur.ok()) return ur.error();
        Stmt ins = c.Prepare(
            "INSERT INTO refresh_tokens(token_hash, user_id, device_id, created_at, expires_at) "
            "VALUES (?,?,?,?,?)");
        auto ir = ins.BindBlob(1, next.token_hash).Bind(2, out.user_id).Bind(3, out.device_id)
                      .Bind(4, next.created_at).Bind(5, next.expires_at).Run();
        if (!ir.ok()) return ir.error();
        out.kind = RotateOutcome::Kind::kRotated;
        return out;
      },
      std::move(done));
}

void SqliteStore::RevokeRefreshTokens(std::string device_id, Done<Unit> done) {
  writer_->Submit<Unit>(
      [=](SqliteConn& c) -> Result<Unit> {
        Stmt s = c.Prepare(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE device_id = ? AND revoked_at IS NULL");
        auto r = s.Bind(1, static_cast<int64_t>(time(nullptr)) * 1000).Bind(2, device_id).Run();
        if (!r.ok()) return r.error();
        return Unit{};
      },
      std::move(done));
}

void SqliteStore::DenyAccessToken(std::string jti, int64_t expires_at, Done<Unit> done) {
  writer_->Submit<Unit>(
      [=](SqliteConn& c) -> Result<Unit> {
        Stmt s = c.Prepare(
            "INSERT INTO denied_tokens(jti, expires_at) VALUES (?,?) ON CONFLICT DO NOTHING");
        auto r = s.Bind(1, jti).Bind(2, expires_at).Run();
        if (!r.ok()) return r.error();
        Stmt d = c.Prepare("DELETE FROM denied_tokens WHERE expires_at < ?");
        auto rd = d.Bind(1, static_cast<int64_t>(time(nullptr)) * 1000 - 60000).Run();
        if (!rd.ok()) return rd.error();
        return Unit{};
      },
      std::move(done));
}

Result<std::vector<std::string>> SqliteStore::ListDeniedAccessTokens(int64_t now) {
  auto c = Reader();
  if (!c.ok()) return c.error();
  Stmt s = (*c)->Prepare("SELECT jti FROM denied_tokens WHERE expires_at >= ?");
  s.Bind(1, now);
  return s.Texts();
}

}  // namespace parley::storage::sqlite
