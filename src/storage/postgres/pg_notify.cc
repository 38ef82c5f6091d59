// PostgresStore: NotifyStore methods. Contracts: storage/notify_store.h.
#include <cstdint>

#include "storage/postgres/postgres_store.h"

namespace parley::storage::postgres {

void PostgresStore::SetPushEndpoint(PushEndpoint p, Done<Unit> done) {
  writer_->Submit<Unit>(
      [p = std::move(p)](PgConn& c) -> Result<Unit> {
        auto r = p.endpoint.empty()
                     ? c.Exec("DELETE FROM push_endpoints WHERE device_id = $1", {P(p.device_id)})
                     : c.Exec(
                           "INSERT INTO push_endpoints(device_id, user_id, endpoint) "
                           "VALUES ($1,$2,$3) ON CONFLICT (device_id) "
                           "DO UPDATE SET endpoint = EXCLUDED.endpoint",
                           {P(p.device_id), P(p.user_id), P(p.endpoint)});
        if (!r.ok()) return r.error();
        return Unit{};
      },
      std::move(done));
}

Result<std::vector<PushEndpoint>> PostgresStore::ListPushEndpoints() {
  auto c = Reader();
  if (!c.ok()) return c.error();
  auto r = (*c)->Exec(
      "SELECT p.device_id, p.user_id, p.endpoint FROM push_endpoints p "
      "JOIN devices d ON d.device_id = p.device_id WHERE d.revoked_at IS NULL "
      "ORDER BY p.device_id");
  if (!r.ok()) return r.error();
  std::vector<PushEndpoint> out;
  for (int i = 0; i < r->rows(); ++i) out.push_back({r->str(i, 0), r->str(i, 1), r->str(i, 2)});
  return out;
}

void PostgresStore::AddNotification(Notification n, Done<int64_t> done) {
  writer_->Submit<int64_t>(
      [n = std::move(n)](PgConn& c) -> Result<int64_t> {
        auto r = c.Exec(
            "INSERT INTO notifications(user_id, title, body, data, created_at) "
            "VALUES ($1,$2,$3,$4,$5::bigint) RETURNING id",
            {P(n.user_id), P(n.title), P(n.body), P(n.data), P(n.created_at)});
        if (!r.ok()) return r.error();
        return r->i64(0, 0);
      },
      std::move(done));
}

Result<std::vector<Notification>> PostgresStore::ListNotifications(const std::string& user_id,
                                                                   int64_t before_id, int limit) {
  auto c = Reader();
  if (!c.ok()) return c.error();
  auto r = (*c)->Exec(
      "SELECT id, user_id, title, body, data, created_at FROM notifications "
      "WHERE user_id = $1 AND id < $2::bigint ORDER BY id DESC LIMIT $3::bigint",
      {P(user_id), P(before_id > 0 ? before_id : INT64_MAX),
       limit < 0 ? PgParam() : P(static_cast<int64_t>(limit))});
  if (!r.ok()) return r.error();
  std::vector<Notification> out;
  for (int i = 0; i < r->rows(); ++i) {
    out.push_back({r->i64(i, 0), r->str(i, 1), r->str(i, 2), r->str(i, 3), r->str(i, 4),
                   r->i64(i, 5)});
  }
  return out;
}

}  // namespace parley::storage::postgres
