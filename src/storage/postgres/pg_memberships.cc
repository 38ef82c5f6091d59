// PostgresStore: the MessageStore reads that derived indexes (search) need: a user's memberships
// and a scan over every conversation. Contracts in storage/message_store.h; behaviour follows
// storage/sqlite/sqlite_memberships.cc.
#include "storage/postgres/postgres_store.h"

namespace parley::storage::postgres {

Result<std::vector<Membership>> PostgresStore::Memberships(std::string_view user_id) {
  auto c = Reader();
  if (!c.ok()) return c.error();
  auto r = (*c)->Exec(
      "SELECT m.conversation_id, m.joined_seq, m.left_seq, m.delivered_seq, m.read_seq "
      "FROM conversation_members m JOIN conversations c ON c.conversation_id = m.conversation_id "
      "WHERE m.user_id = $1 "
      "ORDER BY GREATEST(c.last_message_at, c.created_at) DESC, c.conversation_id",
      {P(user_id)});
  if (!r.ok()) return r.error();
  std::vector<Membership> out;
  out.reserve(r->rows());
  for (int i = 0; i < r->rows(); ++i) {
    Membership m;
    m.conversation_id = r->str(i, 0);
    m.user_id = std::string(user_id);
    m.joined_seq = r->i64(i, 1);
    if (!r->null(i, 2)) m.left_seq = r->i64(i, 2);
    m.delivered_seq = r->i64(i, 3);
    m.read_seq = r->i64(i, 4);
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::vector<Conversation>> PostgresStore::ScanConversations(std::string_view after_id,
                                                                   int limit) {
  auto c = Reader();
  if (!c.ok()) return c.error();
  // A primary-key range scan; the column is COLLATE "C", so ids order bytewise as in SQLite.
  auto r = (*c)->Exec(
      "SELECT conversation_id, type, COALESCE(group_id, ''), title, created_at, last_seq, "
      "last_message_at FROM conversations WHERE conversation_id > $1 "
      "ORDER BY conversation_id LIMIT $2::bigint",
      {P(after_id), P(static_cast<int64_t>(std::max(limit, 0)))});
  if (!r.ok()) return r.error();
  std::vector<Conversation> out;
  out.reserve(r->rows());
  for (int i = 0; i < r->rows(); ++i)
    out.push_back({r->str(i, 0), r->str(i, 1), r->str(i, 2), r->str(i, 3), r->i64(i, 4),
                   r->i64(i, 5), r->i64(i, 6)});
  return out;
}

}  // namespace parley::storage::postgres
