// SqliteStore: the MessageStore reads that derived indexes (search) need: a user's memberships
// and a scan over every conversation.
#include "storage/sqlite/sqlite_store.h"

namespace parley::storage::sqlite {

Result<std::vector<Membership>> SqliteStore::Memberships(std::string_view user_id) {
  auto c = FreshReader();
  if (!c.ok()) return c.error();
  Stmt s = (*c)->Prepare(
      "SELECT m.conversation_id, m.joined_seq, m.left_seq, m.delivered_seq, m.read_seq "
      "FROM conversation_members m JOIN conversations c ON c.conversation_id = m.conversation_id "
      "WHERE m.user_id = ? ORDER BY MAX(c.last_message_at, c.created_at) DESC, c.conversation_id");
  s.Bind(1, user_id);
  std::vector<Membership> out;
  while (true) {
    auto row = s.Step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    Membership m;
    m.conversation_id = s.Text(0);
    m.user_id = std::string(user_id);
    m.joined_seq = s.Int(1);
    if (!s.IsNull(2)) m.left_seq = s.Int(2);
    m.delivered_seq = s.Int(3);
    m.read_seq = s.Int(4);
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::vector<Conversation>> SqliteStore::ScanConversations(std::string_view after_id,
                                                                 int limit) {
  auto c = FreshReader();
  if (!c.ok()) return c.error();
  Stmt s = (*c)->Prepare(
      "SELECT conversation_id, type, COALESCE(group_id, ''), title, created_at, last_seq, "
      "last_message_at FROM conversations WHERE conversation_id > ? ORDER BY conversation_id "
      "LIMIT ?");
  s.Bind(1, after_id).Bind(2, static_cast<int64_t>(limit));
  std::vector<Conversation> out;
  while (true) {
    auto row = s.Step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back({s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4), s.Int(5), s.Int(6)});
  }
  return out;
}

}  // namespace parley::storage::sqlite
