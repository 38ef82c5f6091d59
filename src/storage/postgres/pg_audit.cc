// PostgresStore: AuditStore methods. Contracts: storage/audit_store.h. Ids come from a
// BIGSERIAL: increasing, but with several nodes committing at once an id can become visible
// after a larger one (ListAudit pages by id, which at worst shows such an entry one page late).
#include <cstdint>

#include "storage/postgres/postgres_store.h"

namespace parley::storage::postgres {

void PostgresStore::RecordAudit(AuditEntry e, Done<int64_t> done) {
  writer_->Submit<int64_t>(
      [e = std::move(e)](PgConn& c) -> Result<int64_t> {
        auto r = c.Exec(
            "INSERT INTO audit_log(at, actor_user_id, actor_device_id, action, target, address, "
            "details) VALUES ($1::bigint,$2,$3,$4,$5,$6,$7) RETURNING id",
            {P(e.at), P(e.actor_user_id), P(e.actor_device_id), P(e.action), P(e.target),
             P(e.address), P(e.details)});
        if (!r.ok()) return r.error();
        return r->i64(0, 0);
      },
      std::move(done));
}

Result<std::vector<AuditEntry>> PostgresStore::ListAudit(const AuditQuery& q) {
  auto c = Reader();
  if (!c.ok()) return c.error();
  auto r = (*c)->Exec(
      "SELECT id, at, actor_user_id, actor_device_id, action, target, address, details "
      "FROM audit_log WHERE id < $1::bigint AND ($2 = '' OR action = $2) "
      "AND ($3 = '' OR actor_user_id = $3) ORDER BY id DESC LIMIT $4::bigint",
      {P(q.before_id > 0 ? q.before_id : INT64_MAX), P(q.action), P(q.actor_user_id),
       q.limit < 0 ? PgParam() : P(static_cast<int64_t>(q.limit))});
  if (!r.ok()) return r.error();
  std::vector<AuditEntry> out;
  for (int i = 0; i < r->rows(); ++i) {
    out.push_back({r->i64(i, 0), r->i64(i, 1), r->str(i, 2), r->str(i, 3), r->str(i, 4),
                   r->str(i, 5), r->str(i, 6), r->str(i, 7)});
  }
  return out;
}

}  // namespace parley::storage::postgres
