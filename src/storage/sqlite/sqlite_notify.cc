// SqliteStore: NotifyStore methods and the "notify" migrations.
#include <array>

#include "storage/sqlite/sqlite_store.h"

namespace parley::storage::sqlite {

namespace {
constexpr std::array<const char*, 1> kNotifyMigrations = {R"sql(
CREATE TABLE push_endpoints(
  device_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  endpoint TEXT NOT NULL);
CREATE TABLE notifications(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id TEXT NOT NULL,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  data TEXT NOT NULL,
  created_at INTEGER NOT NULL);
CREATE INDEX notifications_by_user ON notifications(user_id, id);
)sql"};
}  // namespace

Status MigrateNotify(SqliteConn& conn) { return Migrate(conn, "notify", kNotifyMigrations); }

void SqliteStore::SetPushEndpoint(PushEndpoint p, Done<Unit> done) {
  writer_->Submit<Unit>(
      [p = std::move(p)](SqliteConn& c) -> Result<Unit> {
        if (p.endpoint.empty()) {
          Stmt d = c.Prepare("DELETE FROM push_endpoints WHERE device_id = ?");
          auto r = d.Bind(1, p.device_id).Run();
          if (!r.ok()) return r.error();
          return Unit{};
        }
        Stmt s = c.Prepare(
            "INSERT INTO push_endpoints(device_id, user_id, endpoint) VALUES (?,?,?) "
            "ON CONFLICT(device_id) DO UPDATE SET endpoint = excluded.endpoint");
        auto r = s.Bind(1, p.device_id).Bind(2, p.user_id).Bind(3, p.endpoint).Run();
        if (!r.ok()) return r.error();
        return Unit{};
      },
      std::move(done));
}

Result<std::vector<PushEndpoint>> SqliteStore::ListPushEndpoints() {
  auto cr = Reader();
  if (!cr.ok()) return cr.error();
  Stmt s = (*cr)->Prepare(
      "SELECT p.device_id, p.user_id, p.endpoint FROM push_endpoints p "
      "JOIN devices d ON d.device_id = p.device_id WHERE d.revoked_at IS NULL");
  std::vector<PushEndpoint> out;
  while (true) {
    auto row = s.Step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back({s.Text(0), s.Text(1), s.Text(2)});
  }
  return out;
}

void SqliteStore::AddNotification(Notification n, Done<int64_t> done) {
  writer_->Submit<int64_t>(
      [n = std::move(n)](SqliteConn& c) -> Result<int64_t> {
        Stmt s = c.Prepare(
            "INSERT INTO notifications(user_id, title, body, data, created_at) VALUES (?,?,?,?,?)");
        auto r = s.Bind(1, n.user_id).Bind(2, n.title).Bind(3, n.body).Bind(4, n.data)
                     .Bind(5, n.created_at).Run();
        if (!r.ok()) return r.error();
        return static_cast<int64_t>(sqlite3_last_insert_rowid(c.raw()));
      },
      std::move(done));
}

Result<std::vector<Notification>> SqliteStore::ListNotifications(const std::string& user_id,
                                                                 int64_t before_id, int limit) {
  auto cr = Reader();
  if (!cr.ok()) return cr.error();
  Stmt s = (*cr)->Prepare(
      "SELECT id, user_id, title, body, data, created_at FROM notifications "
      "WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?");
  s.Bind(1, user_id).Bind(2, before_id > 0 ? before_id : INT64_MAX).Bind(3, static_cast<int64_t>(limit));
  std::vector<Notification> out;
  while (true) {
    auto row = s.Step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back({s.Int(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4), s.Int(5)});
  }
  return out;
}

}  // namespace parley::storage::sqlite
