// SqliteStore: AuditStore methods and the "audit" migrations.
#include <array>

#include "storage/sqlite/sqlite_store.h"

namespace parley::storage::sqlite {

namespace {
constexpr std::array<const char*, 1> kAuditMigrations = {R"sql(
CREATE TABLE audit_log(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  actor_user_id TEXT NOT NULL,
  actor_device_id TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  address TEXT NOT NULL,
  details TEXT NOT NULL);
CREATE INDEX audit_by_action ON audit_log(action, id);
CREATE INDEX audit_by_actor ON audit_log(actor_user_id, id);
)sql"};
}  // namespace

Status MigrateAudit(SqliteConn& conn) { return Migrate(conn, "audit", kAuditMigrations); }

void SqliteStore::RecordAudit(AuditEntry e, Done<int64_t> done) {
  writer_->Submit<int64_t>(
      [e = std::move(e)](SqliteConn& c) -> Result<int64_t> {
        Stmt s = c.Prepare(
            "INSERT INTO audit_log(at, actor_user_id, actor_device_id, action, target, address, "
            "details) VALUES (?,?,?,?,?,?,?)");
        auto r = s.Bind(1, e.at).Bind(2, e.actor_user_id).Bind(3, e.actor_device_id)
                     .Bind(4, e.action).Bind(5, e.target).Bind(6, e.address).Bind(7, e.details)
                     .Run();
        if (!r.ok()) return r.error();
        return static_cast<int64_t>(sqlite3_last_insert_rowid(c.raw()));
      },
      std::move(done));
}

Result<std::vector<AuditEntry>> SqliteStore::ListAudit(const AuditQuery& q) {
  auto cr = Reader();
  if (!cr.ok()) return cr.error();
  Stmt s = (*cr)->Prepare(
      "SELECT id, at, actor_user_id, actor_device_id, action, target, address, details "
      "FROM audit_log WHERE id < ?1 AND (?2 = '' OR action = ?2) "
      "AND (?3 = '' OR actor_user_id = ?3) ORDER BY id DESC LIMIT ?4");
  s.Bind(1, q.before_id > 0 ? q.before_id : INT64_MAX).Bind(2, q.action).Bind(3, q.actor_user_id)
      .Bind(4, static_cast<int64_t>(q.limit));
  std::vector<AuditEntry> out;
  while (true) {
    auto row = s.Step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back({s.Int(0), s.Int(1), s.Text(2), s.Text(3), s.Text(4), s.Text(5), s.Text(6),
                   s.Text(7)});
  }
  return out;
}

void SqliteStore::SetAdmin(std::string user_id, bool admin, Done<Unit> done) {
  writer_->Submit<Unit>(
      [=](SqliteConn& c) -> Result<Unit> {
        Stmt s = c.Prepare("UPDATE users SET is_admin = ? WHERE user_id = ?");
        auto r = s.Bind(1, int64_t{admin}).Bind(2, user_id).Run();
        if (!r.ok()) return r.error();
        if (*r == 0) return MakeError(ErrorCode::kNotFound, "no such user");
        return Unit{};
      },
      std::move(done));
}

}  // namespace parley::storage::sqlite
