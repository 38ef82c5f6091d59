// PostgresStore: AuthStore methods (users, devices, refresh and denied tokens, admin flag).
// Contracts: storage/auth_store.h. CreateDevice and RevokeDevice also touch the message
// module's device_cursors and to_device tables (pg_schema_messages.cc), as the SQLite adapter
// does. RotateRefreshToken locks the old token's row (FOR UPDATE) so two nodes rotating the same
// token serialize: exactly one rotates, the other sees it used (reuse).
#include <ctime>

#include "storage/postgres/postgres_store.h"

namespace parley::storage::postgres {
namespace {

constexpr const char* kSelectUser =
    "SELECT user_id, username, display_name, password_hash, profile_pic_url, status, "
    "status_text, created_at, last_seen_at, is_admin FROM users WHERE ";
constexpr const char* kSelectDevice =
    "SELECT device_id, user_id, device_name, created_at, last_seen_at, revoked_at "
    "FROM devices WHERE ";

int64_t NowMs() { return static_cast<int64_t>(time(nullptr)) * 1000; }

User ReadUser(const PgResult& r, int i) {
  User u;
  u.user_id = r.str(i, 0);
  u.username = r.str(i, 1);
  u.display_name = r.str(i, 2);
  u.password_hash = r.str(i, 3);
  u.profile_pic_url = r.str(i, 4);
  u.status = r.str(i, 5);
  u.status_text = r.str(i, 6);
  u.created_at = r.i64(i, 7);
  u.last_seen_at = r.i64(i, 8);
  u.is_admin = r.boolean(i, 9);
  return u;
}

Device ReadDevice(const PgResult& r, int i) {
  Device d;
  d.device_id = r.str(i, 0);
  d.user_id = r.str(i, 1);
  d.device_name = r.str(i, 2);
  d.created_at = r.i64(i, 3);
  d.last_seen_at = r.i64(i, 4);
  d.revoked = !r.null(i, 5);
  return d;
}

Result<User> OneUser(Result<PgResult> r) {
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return MakeError(ErrorCode::kNotFound, "no such user");
  return ReadUser(*r, 0);
}

Result<Unit> Done1(const Result<PgResult>& r) {
  if (!r.ok()) return r.error();
  return Unit{};
}

}  // namespace

void PostgresStore::CreateUser(User user, Done<Unit> done) {
  writer_->Submit<Unit>(
      [user = std::move(user)](PgConn& c) -> Result<Unit> {
        auto r = c.Exec(
            "INSERT INTO users(user_id, username, display_name, password_hash, created_at, "
            "is_admin) VALUES ($1,$2,$3,$4,$5::bigint,$6::boolean) ON CONFLICT DO NOTHING",
            {P(user.user_id), P(user.username), P(user.display_name), P(user.password_hash),
             P(user.created_at), P(user.is_admin)});
        if (!r.ok()) return r.error();
        if (r->affected() == 0) return MakeError(ErrorCode::kConflict, "username is taken");
        return Unit{};
      },
      std::move(done));
}

Result<User> PostgresStore::GetUser(std::string_view user_id) {
  auto c = Reader();
  if (!c.ok()) return c.error();
  return OneUser((*c)->Exec(std::string(kSelectUser) + "user_id = $1", {P(user_id)}));
}

Result<User> PostgresStore::GetUserByUsername(std::string_view username) {
  auto c = Reader();
  if (!c.ok()) return c.error();
  return OneUser((*c)->Exec(std::string(kSelectUser) + "username = $1", {P(username)}));
}

void PostgresStore::SetPresence(std::string user_id, std::string status, std::string text,
                                int64_t last_seen_at, Done<Unit> done) {
  writer_->Submit<Unit>(
      [=](PgConn& c) -> Result<Unit> {
        return Done1(c.Exec(
            "UPDATE users SET status = $1, status_text = $2, "
            "last_seen_at = CASE WHEN $3::bigint > 0 THEN $3::bigint ELSE last_seen_at END "
            "WHERE user_id = $4",
            {P(status), P(text), P(last_seen_at), P(user_id)}));
      },
      std::move(done));
}

void PostgresStore::CreateDevice(Device device, Done<Unit> done) {
  writer_->Submit<Unit>(
      [device = std::move(device)](PgConn& c) -> Result<Unit> {
        auto r = c.Exec(
            "INSERT INTO devices(device_id, user_id, device_name, created_at, last_seen_at) "
            "VALUES ($1,$2,$3,$4::bigint,$4::bigint)",
            {P(device.device_id), P(device.user_id), P(device.device_name),
             P(device.created_at)});
        if (!r.ok()) return r.error();
        // A new device starts caught up: what was sent before it existed is history, not pending.
        return Done1(c.Exec(
            "INSERT INTO device_cursors(device_id, conversation_id, delivered_seq) "
            "SELECT $1, m.conversation_id, c.last_seq FROM conversation_members m "
            "JOIN conversations c ON c.conversation_id = m.conversation_id "
            "WHERE m.user_id = $2 AND m.left_seq IS NULL",
            {P(device.device_id), P(device.user_id)}));
      },
      std::move(done));
}

Result<Device> PostgresStore::GetDevice(std::string_view device_id) {
  auto c = Reader();
  if (!c.ok()) return c.error();
  auto r = (*c)->Exec(std::string(kSelectDevice) + "device_id = $1", {P(device_id)});
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return MakeError(ErrorCode::kNotFound, "no such device");
  return ReadDevice(*r, 0);
}

Result<std::vector<Device>> PostgresStore::ListDevices(std::string_view user_id) {
  auto c = Reader();
  if (!c.ok()) return c.error();
  auto r = (*c)->Exec(std::string(kSelectDevice) +
                          "user_id = $1 AND revoked_at IS NULL ORDER BY created_at, device_id",
                      {P(user_id)});
  if (!r.ok()) return r.error();
  std::vector<Device> out;
  for (int i = 0; i < r->rows(); ++i) out.push_back(ReadDevice(*r, i));
  return out;
}

void PostgresStore::RevokeDevice(std::string user_id, std::string device_id, Done<Unit> done) {
  writer_->Submit<Unit>(
      [=](PgConn& c) -> Result<Unit> {
        int64_t now = NowMs();
        auto r = c.Exec(
            "UPDATE devices SET revoked_at = $1::bigint WHERE device_id = $2 AND user_id = $3 "
            "AND revoked_at IS NULL",
            {P(now), P(device_id), P(user_id)});
        if (!r.ok()) return r.error();
        if (r->affected() == 0) return MakeError(ErrorCode::kNotFound, "no such device");
        auto t = c.Exec(
            "UPDATE refresh_tokens SET revoked_at = $1::bigint WHERE device_id = $2 "
            "AND revoked_at IS NULL",
            {P(now), P(device_id)});
        if (!t.ok()) return t.error();
        for (const char* sql : {"DELETE FROM device_keys WHERE device_id = $1",
                                "DELETE FROM one_time_prekeys WHERE device_id = $1",
                                "DELETE FROM to_device WHERE to_device_id = $1",
                                "DELETE FROM device_cursors WHERE device_id = $1"}) {
          auto d = c.Exec(sql, {P(device_id)});
          if (!d.ok()) return d.error();
        }
        return Unit{};
      },
      std::move(done));
}

Result<std::vector<std::string>> PostgresStore::ListRevokedDevices() {
  auto c = Reader();
  if (!c.ok()) return c.error();
  auto r = (*c)->Exec("SELECT device_id FROM devices WHERE revoked_at IS NOT NULL");
  if (!r.ok()) return r.error();
  std::vector<std::string> out;
  for (int i = 0; i < r->rows(); ++i) out.push_back(r->str(i, 0));
  return out;
}

void PostgresStore::TouchDevice(std::string device_id, int64_t at, Done<Unit> done) {
  writer_->Submit<Unit>(
      [=](PgConn& c) -> Result<Unit> {
        return Done1(c.Exec("UPDATE devices SET last_seen_at = $1::bigint WHERE device_id = $2",
                            {P(at), P(device_id)}));
      },
      std::move(done));
}

void PostgresStore::InsertRefreshToken(RefreshToken t, Done<Unit> done) {
  writer_->Submit<Unit>(
      [t = std::move(t)](PgConn& c) -> Result<Unit> {
        return Done1(c.Exec(
            "INSERT INTO refresh_tokens(token_hash, user_id, device_id, created_at, expires_at) "
            "VALUES ($1::bytea,$2,$3,$4::bigint,$5::bigint)",
            {Bytea(t.token_hash), P(t.user_id), P(t.device_id), P(t.created_at),
             P(t.expires_at)}));
      },
      std::move(done));
}

void PostgresStore::RotateRefreshToken(std::string old_hash, RefreshToken next, int64_t now,
                                       Done<RotateOutcome> done) {
  writer_->Submit<RotateOutcome>(
      [old_hash = std::move(old_hash), next = std::move(next), now](
          PgConn& c) -> Result<RotateOutcome> {
        RotateOutcome out;
        auto row = c.Exec(
            "SELECT user_id, device_id, expires_at, used_at, revoked_at FROM refresh_tokens "
            "WHERE token_hash = $1::bytea FOR UPDATE",
            {Bytea(old_hash)});
        if (!row.ok()) return row.error();
        if (row->rows() == 0) return out;  // kUnknown
        out.user_id = row->str(0, 0);
        out.device_id = row->str(0, 1);
        int64_t expires_at = row->i64(0, 2);
        bool used = !row->null(0, 3);
        bool revoked = !row->null(0, 4);
        if (used) {
          // Reuse: someone holds a copy. Revoke the whole family (every token of the device).
          auto r = c.Exec(
              "UPDATE refresh_tokens SET revoked_at = $1::bigint WHERE device_id = $2 "
              "AND revoked_at IS NULL",
              {P(now), P(out.device_id)});
          if (!r.ok()) return r.error();
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
        auto dev = c.Exec("SELECT revoked_at FROM devices WHERE device_id = $1",
                          {P(out.device_id)});
        if (!dev.ok()) return dev.error();
        if (dev->rows() == 0 || !dev->null(0, 0)) {
          out.kind = RotateOutcome::Kind::kRevoked;
          return out;
        }
        auto u = c.Exec("UPDATE refresh_tokens SET used_at = $1::bigint WHERE token_hash = $2::bytea",
                        {P(now), Bytea(old_hash)});
        if (!u.ok()) return u.error();
        auto ins = c.Exec(
            "INSERT INTO refresh_tokens(token_hash, user_id, device_id, created_at, expires_at) "
            "VALUES ($1::bytea,$2,$3,$4::bigint,$5::bigint)",
            {Bytea(next.token_hash), P(out.user_id), P(out.device_id), P(next.created_at),
             P(next.expires_at)});
        if (!ins.ok()) return ins.error();
        out.kind = RotateOutcome::Kind::kRotated;
        return out;
      },
      std::move(done));
}

void PostgresStore::RevokeRefreshTokens(std::string device_id, Done<Unit> done) {
  writer_->Submit<Unit>(
      [=](PgConn& c) -> Result<Unit> {
        return Done1(c.Exec(
            "UPDATE refresh_tokens SET revoked_at = $1::bigint WHERE device_id = $2 "
            "AND revoked_at IS NULL",
            {P(NowMs()), P(device_id)}));
      },
      std::move(done));
}

void PostgresStore::DenyAccessToken(std::string jti, int64_t expires_at, Done<Unit> done) {
  writer_->Submit<Unit>(
      [=](PgConn& c) -> Result<Unit> {
        auto r = c.Exec(
            "INSERT INTO denied_tokens(jti, expires_at) VALUES ($1,$2::bigint) "
            "ON CONFLICT DO NOTHING",
            {P(jti), P(expires_at)});
        if (!r.ok()) return r.error();
        return Done1(c.Exec("DELETE FROM denied_tokens WHERE expires_at < $1::bigint",
                            {P(NowMs() - 60000)}));
      },
      std::move(done));
}

Result<std::vector<std::string>> PostgresStore::ListDeniedAccessTokens(int64_t now) {
  auto c = Reader();
  if (!c.ok()) return c.error();
  auto r = (*c)->Exec("SELECT jti FROM denied_tokens WHERE expires_at >= $1::bigint", {P(now)});
  if (!r.ok()) return r.error();
  std::vector<std::string> out;
  for (int i = 0; i < r->rows(); ++i) out.push_back(r->str(i, 0));
  return out;
}

void PostgresStore::SetAdmin(std::string user_id, bool admin, Done<Unit> done) {
  writer_->Submit<Unit>(
      [=](PgConn& c) -> Result<Unit> {
        auto r = c.Exec("UPDATE users SET is_admin = $1::boolean WHERE user_id = $2",
                        {P(admin), P(user_id)});
        if (!r.ok()) return r.error();
        if (r->affected() == 0) return MakeError(ErrorCode::kNotFound, "no such user");
        return Unit{};
      },
      std::move(done));
}

}  // namespace parley::storage::postgres
