// PostgresStore: MessageStore methods for sending and reading messages (Append, GetConversation,
// GetMembership, History, GetMessage). Contracts in storage/message_store.h; behaviour follows
// the SQLite adapter (storage/sqlite/sqlite_messages.cc).
//
// Several parleyd nodes may append to one conversation at once. An append runs in the writer's
// transaction and, in this order: looks up (device, client_msg_id) in send_dedup; creates a
// direct conversation with ON CONFLICT DO NOTHING (a racing node waits on the key, then finds
// it); locks the conversation row (msg::LockConversation, the lock every conversation write
// takes first); claims (device, client_msg_id) with the next seq (the primary key makes a
// concurrent claim on another node wait for ours, then see it: duplicate); checks the sender's
// membership (after the lock, so a removal committed meanwhile is seen); then bumps last_seq and
// inserts. Any error rolls the job back to its savepoint, undoing the claim and the seq.
#include "common/ids.h"
#include "common/time.h"
#include "storage/postgres/pg_msg_rows.h"
#include "storage/postgres/postgres_store.h"

namespace parley::storage::postgres {
namespace {

// The first message of a (device, client_msg_id) already claimed.
Result<Message> ClaimedMessage(PgConn& c, const AppendRequest& req) {
  auto d = c.Exec(
      "SELECT conversation_id, seq FROM send_dedup WHERE device_id = $1 AND client_msg_id = $2",
      {P(req.sender_device_id), P(req.client_msg_id)});
  if (!d.ok()) return d.error();
  if (d->rows() == 0) return MakeError(ErrorCode::kInternal, "send claim vanished");
  return msg::MessageAt(c, d->str(0, 0), d->i64(0, 1));
}

// Creates the direct conversation and its two members unless it exists. A node racing to create
// the same one waits on the primary key, then finds it (and its members) committed.
Status EnsureDirect(PgConn& c, const AppendRequest& req, int64_t now) {
  auto ins = c.Exec(
      "INSERT INTO conversations(conversation_id, type, created_at) VALUES ($1, 'direct', "
      "$2::bigint) ON CONFLICT (conversation_id) DO NOTHING",
      {P(req.conversation_id), P(now)});
  if (!ins.ok()) return ins.error();
  if (ins->affected() == 0) return OkStatus();
  auto m = c.Exec(
      "INSERT INTO conversation_members(conversation_id, user_id, joined_seq) "
      "VALUES ($1, $2, 0), ($1, $3, 0) ON CONFLICT DO NOTHING",
      {P(req.conversation_id), P(req.direct_pair->first), P(req.direct_pair->second)});
  if (!m.ok()) return m.error();
  return OkStatus();
}

// The sending device and user are caught up with their own message if they were with everything
// before it (as in the SQLite adapter): no pending copy for the device, no unread for the user.
// "Caught up" is the device's cursor as Pending reads it (no row yet: from joined_seq).
Status CatchUpSender(PgConn& c, const Message& m) {
  auto cur = c.Exec(
      "INSERT INTO device_cursors(device_id, conversation_id, delivered_seq) "
      "SELECT $1::text, $2::text, $3::bigint FROM conversation_members m LEFT JOIN device_cursors d "
      "ON d.device_id = $1::text AND d.conversation_id = $2::text "
      "WHERE m.conversation_id = $2::text AND m.user_id = $4::text "
      "AND GREATEST(COALESCE(d.delivered_seq, 0), m.joined_seq) = $3::bigint - 1 "
      "ON CONFLICT (device_id, conversation_id) DO UPDATE SET delivered_seq = "
      "excluded.delivered_seq",
      {P(m.sender_device_id), P(m.conversation_id), P(m.seq), P(m.sender_id)});
  if (!cur.ok()) return cur.error();
  auto u = c.Exec(
      "UPDATE conversation_members SET read_seq = $3::bigint, "
      "delivered_seq = GREATEST(delivered_seq, $3::bigint) "
      "WHERE conversation_id = $1 AND user_id = $2 AND read_seq = $3::bigint - 1",
      {P(m.conversation_id), P(m.sender_id), P(m.seq)});
  if (!u.ok()) return u.error();
  return OkStatus();
}

Result<AppendResult> AppendTx(PgConn& c, const AppendRequest& req) {
  AppendResult out;
  // A repeat already committed (or written earlier in this batch): no lock needed.
  auto seen = c.Exec(
      "SELECT conversation_id, seq FROM send_dedup WHERE device_id = $1 AND client_msg_id = $2",
      {P(req.sender_device_id), P(req.client_msg_id)});
  if (!seen.ok()) return seen.error();
  if (seen->rows() > 0) {
    auto first = msg::MessageAt(c, seen->str(0, 0), seen->i64(0, 1));
    if (!first.ok()) return first.error();
    out.message = std::move(*first);
    out.duplicate = true;
    return out;
  }
  int64_t now = NowMs();
  if (req.direct_pair) PARLEY_TRY(EnsureDirect(c, req, now));
  auto last_seq = msg::LockConversation(c, req.conversation_id);
  if (!last_seq.ok()) return last_seq.error();
  const int64_t seq = *last_seq + 1;
  {
    // The claim: a node sending the same (device, client_msg_id) right now waits on this key
    // until we commit, then finds our row; if it got there first, we find theirs.
    auto claim = c.Exec(
        "INSERT INTO send_dedup(device_id, client_msg_id, conversation_id, seq) "
        "VALUES ($1, $2, $3, $4::bigint) ON CONFLICT (device_id, client_msg_id) DO NOTHING",
        {P(req.sender_device_id), P(req.client_msg_id), P(req.conversation_id), P(seq)});
    if (!claim.ok()) return claim.error();
    if (claim->affected() == 0) {
      auto first = ClaimedMessage(c, req);
      if (!first.ok()) return first.error();
      out.message = std::move(*first);
      out.duplicate = true;
      return out;
    }
  }
  {
    // Read after taking the lock, so a removal committed meanwhile on another node is seen.
    auto mem = c.Exec(
        "SELECT 1 FROM conversation_members WHERE conversation_id = $1 AND user_id = $2 "
        "AND left_seq IS NULL",
        {P(req.conversation_id), P(req.sender_id)});
    if (!mem.ok()) return mem.error();
    if (mem->rows() == 0)
      return MakeError(ErrorCode::kForbidden, "not a member of this conversation");
  }
  auto next = msg::NextSeq(c, req.conversation_id, now);
  if (!next.ok()) return next.error();
  if (*next != seq) return MakeError(ErrorCode::kInternal, "conversation seq moved under its lock");
  Message& m = out.message;
  m.message_id = NewUuidV7();
  m.conversation_id = req.conversation_id;
  m.seq = seq;
  m.sender_id = req.sender_id;
  m.sender_device_id = req.sender_device_id;
  m.created_at = now;
  m.content_type = req.content_type;
  m.encryption = req.encryption;
  m.body = req.body;
  m.media_ids = req.media_ids;
  m.search_tokens = req.search_tokens;
  m.reply_to = req.reply_to;
  PARLEY_TRY(msg::InsertMessage(c, m));
  PARLEY_TRY(CatchUpSender(c, m));
  auto members = msg::MemberIds(c, m.conversation_id);
  if (!members.ok()) return members.error();
  out.member_ids = std::move(*members);
  return out;
}

}  // namespace

void PostgresStore::Append(AppendRequest req, Done<AppendResult> done) {
  writer().Submit<AppendResult>(
      [req = std::move(req)](PgConn& c) { return AppendTx(c, req); }, std::move(done));
}

Result<Conversation> PostgresStore::GetConversation(std::string_view conversation_id) {
  auto c = Reader();
  if (!c.ok()) return c.error();
  auto r = (*c)->Exec(
      "SELECT conversation_id, type, COALESCE(group_id, ''), title, created_at, last_seq, "
      "last_message_at FROM conversations WHERE conversation_id = $1",
      {P(conversation_id)});
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return MakeError(ErrorCode::kNotFound, "no such conversation");
  return Conversation{r->str(0, 0), r->str(0, 1), r->str(0, 2), r->str(0, 3),
                      r->i64(0, 4), r->i64(0, 5), r->i64(0, 6)};
}

Result<Membership> PostgresStore::GetMembership(std::string_view conversation_id,
                                                std::string_view user_id) {
  auto c = Reader();
  if (!c.ok()) return c.error();
  auto r = (*c)->Exec(
      "SELECT joined_seq, left_seq, delivered_seq, read_seq FROM conversation_members "
      "WHERE conversation_id = $1 AND user_id = $2",
      {P(conversation_id), P(user_id)});
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return MakeError(ErrorCode::kNotFound, "not a member");
  Membership m;
  m.conversation_id = std::string(conversation_id);
  m.user_id = std::string(user_id);
  m.joined_seq = r->i64(0, 0);
  if (!r->null(0, 1)) m.left_seq = r->i64(0, 1);
  m.delivered_seq = r->i64(0, 2);
  m.read_seq = r->i64(0, 3);
  return m;
}

Result<std::pair<std::vector<Message>, bool>> PostgresStore::History(
    std::string_view conversation_id, int64_t min_seq, int64_t max_seq, int64_t after_seq,
    int64_t before_seq, bool ascending, int limit) {
  std::pair<std::vector<Message>, bool> out{{}, false};
  // Bounds computed here so INT64_MAX/INT64_MIN sentinels never overflow in SQL.
  int64_t lo = std::max(min_seq, after_seq == INT64_MAX ? INT64_MAX : after_seq + 1);
  int64_t hi = std::min(max_seq, before_seq == INT64_MIN ? INT64_MIN : before_seq - 1);
  if (lo > hi) return out;
  limit = std::max(limit, 0);
  auto c = Reader();
  if (!c.ok()) return c.error();
  // An index range scan of the primary key (conversation_id, seq), forwards or backwards.
  std::string sql = std::string("SELECT ") + msg::kMessageColumns +
                    " FROM messages WHERE conversation_id = $1 AND seq >= $2::bigint "
                    "AND seq <= $3::bigint ORDER BY seq " +
                    (ascending ? "ASC" : "DESC") + " LIMIT $4::bigint";
  auto r = (*c)->Exec(sql, {P(conversation_id), P(lo), P(hi), P(static_cast<int64_t>(limit) + 1)});
  if (!r.ok()) return r.error();
  int n = std::min(r->rows(), limit);
  out.first.reserve(n);
  for (int i = 0; i < n; ++i) out.first.push_back(msg::ReadMessage(*r, i, 0));
  out.second = r->rows() > limit;
  return out;
}

Result<Message> PostgresStore::GetMessage(std::string_view message_id) {
  auto c = Reader();
  if (!c.ok()) return c.error();
  auto r = (*c)->Exec(
      std::string("SELECT ") + msg::kMessageColumns + " FROM messages WHERE message_id = $1",
      {P(message_id)});
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return MakeError(ErrorCode::kNotFound, "no such message");
  return msg::ReadMessage(*r, 0, 0);
}

}  // namespace parley::storage::postgres
