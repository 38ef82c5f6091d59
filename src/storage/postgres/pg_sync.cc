// PostgresStore: MessageStore methods for sync: conversation lists, pending messages, receipts,
// to-device queues, media visibility and contacts. Contracts in storage/message_store.h;
// behaviour follows the SQLite adapter (storage/sqlite/sqlite_sync.cc).
//
// Across nodes: MarkReceipt is one statement, parley_mark_receipt (messages migration 3), which
// locks the conversation row first (as appends and group changes do) so marks only move forward
// and lock order is the same everywhere; EnqueueToDevice takes a per-device advisory lock before drawing ids, so a device's
// queue ids are assigned in commit order and AckToDevice(up_to_id) never deletes a message that
// committed after the ones the device was given.

#include "storage/postgres/pg_msg_rows.h"
#include "storage/postgres/postgres_store.h"

namespace parley::storage::postgres {
namespace {

// ListConversations in one round trip: the user's memberships (by conversation_members_by_user)
// newest activity first, each with the direct peer, the last visible message and the unread
// count (bounded like the SQLite adapter's).
std::string ListConversationsSql() {
  return "WITH mine AS ("
         " SELECT c.conversation_id, c.type, COALESCE(c.group_id, '') AS group_id, c.title,"
         " c.created_at, c.last_seq, c.last_message_at, m.joined_seq, m.left_seq,"
         " m.delivered_seq, m.read_seq,"
         " CASE WHEN m.left_seq IS NULL THEN c.last_seq ELSE LEAST(m.left_seq, c.last_seq) END"
         " AS top"
         " FROM conversation_members m JOIN conversations c"
         " ON c.conversation_id = m.conversation_id WHERE m.user_id = $1"
         " ORDER BY GREATEST(c.last_message_at, c.created_at) DESC, c.conversation_id"
         " LIMIT $2::bigint)"
         " SELECT mine.conversation_id, mine.type, mine.group_id, mine.title, mine.created_at,"
         " mine.last_seq, mine.last_message_at, mine.joined_seq, mine.left_seq,"
         " mine.delivered_seq, mine.read_seq, p.user_id, p.display_name,"
         " CASE WHEN mine.top > GREATEST(mine.read_seq, mine.joined_seq) THEN"
         " (SELECT COUNT(*) FROM (SELECT 1 FROM messages x"
         " WHERE x.conversation_id = mine.conversation_id"
         " AND x.seq > GREATEST(mine.read_seq, mine.joined_seq) AND x.seq <= mine.top"
         " AND x.sender_id <> $1 LIMIT 100000) AS u) ELSE 0 END,"
         " lm.message_id IS NOT NULL, " +
         msg::MessageColumns("lm") +
         " FROM mine"
         " LEFT JOIN LATERAL (SELECT pm.user_id, u.display_name FROM conversation_members pm"
         " JOIN users u ON u.user_id = pm.user_id WHERE mine.type = 'direct'"
         " AND pm.conversation_id = mine.conversation_id ORDER BY pm.user_id = $1 LIMIT 1) p"
         " ON TRUE"
         " LEFT JOIN messages lm ON mine.top > mine.joined_seq"
         " AND lm.conversation_id = mine.conversation_id AND lm.seq = mine.top"
         " ORDER BY GREATEST(mine.last_message_at, mine.created_at) DESC, mine.conversation_id";
}

}  // namespace

Result<std::vector<ConversationSummary>> PostgresStore::ListConversations(std::string_view user_id,
                                                                          int limit) {
  auto cr = Reader();
  if (!cr.ok()) return cr.error();
  static const std::string kSql = ListConversationsSql();
  auto r = (*cr)->Exec(kSql, {P(user_id), P(static_cast<int64_t>(std::max(limit, 0)))});
  if (!r.ok()) return r.error();
  std::vector<ConversationSummary> out;
  out.reserve(r->rows());
  for (int i = 0; i < r->rows(); ++i) {
    ConversationSummary cs;
    cs.conversation = {r->str(i, 0), r->str(i, 1), r->str(i, 2), r->str(i, 3),
                       r->i64(i, 4), r->i64(i, 5), r->i64(i, 6)};
    cs.membership.conversation_id = cs.conversation.conversation_id;
    cs.membership.user_id = std::string(user_id);
    cs.membership.joined_seq = r->i64(i, 7);
    if (!r->null(i, 8)) cs.membership.left_seq = r->i64(i, 8);
    cs.membership.delivered_seq = r->i64(i, 9);
    cs.membership.read_seq = r->i64(i, 10);
    if (!r->null(i, 11)) {
      cs.peer_user_id = r->str(i, 11);
      cs.conversation.title = r->str(i, 12);
    }
    cs.unread_count = r->i64(i, 13);
    if (r->boolean(i, 14)) cs.last_message = msg::ReadMessage(*r, i, 15);
    out.push_back(std::move(cs));
  }
  return out;
}

Result<PendingPage> PostgresStore::Pending(std::string_view user_id, std::string_view device_id,
                                           int limit, const SeqFloors& floors,
                                           int64_t to_device_after) {
  auto cr = Reader();
  if (!cr.ok()) return cr.error();
  PgConn& c = **cr;
  limit = std::max(limit, 0);
  struct Range {
    std::string conv;
    int64_t from, to;
  };
  std::vector<Range> ranges;
  {
    auto r = c.Exec(
        "SELECT conversation_id, from_seq, top FROM ("
        " SELECT m.conversation_id, c.last_message_at,"
        " GREATEST(COALESCE(d.delivered_seq, 0), m.joined_seq) AS from_seq,"
        " CASE WHEN m.left_seq IS NULL THEN c.last_seq ELSE LEAST(m.left_seq, c.last_seq) END"
        " AS top"
        " FROM conversation_members m JOIN conversations c"
        " ON c.conversation_id = m.conversation_id"
        " LEFT JOIN device_cursors d ON d.device_id = $2 AND d.conversation_id = m.conversation_id"
        " WHERE m.user_id = $1) AS p"
        " WHERE top > from_seq ORDER BY last_message_at, conversation_id",
        {P(user_id), P(device_id)});
    if (!r.ok()) return r.error();
    for (int i = 0; i < r->rows(); ++i) {
      Range range{r->str(i, 0), r->i64(i, 1), r->i64(i, 2)};
      auto f = floors.find(range.conv);
      if (f != floors.end()) range.from = std::max(range.from, f->second);
      if (range.to > range.from) ranges.push_back(std::move(range));
    }
  }
  PendingPage page;
  static const std::string kMessagesSql =
      std::string("SELECT ") + msg::kMessageColumns +
      " FROM messages WHERE conversation_id = $1 AND seq > $2::bigint AND seq <= $3::bigint"
      " AND sender_device_id <> $4 ORDER BY seq LIMIT $5::bigint";
  for (const auto& range : ranges) {
    if (page.messages.size() >= static_cast<size_t>(limit)) {
      page.has_more = true;
      break;
    }
    int64_t room = limit - static_cast<int64_t>(page.messages.size());
    auto r = c.Exec(kMessagesSql,
                    {P(range.conv), P(range.from), P(range.to), P(device_id), P(room + 1)});
    if (!r.ok()) return r.error();
    for (int i = 0; i < r->rows(); ++i) {
      if (page.messages.size() == static_cast<size_t>(limit)) {
        page.has_more = true;
        break;
      }
      page.messages.push_back(msg::ReadMessage(*r, i, 0));
    }
  }
  {
    auto r = c.Exec(
        "SELECT id, to_device_id, to_user_id, sender_id, sender_device_id, body, created_at "
        "FROM to_device WHERE to_device_id = $1 AND id > $2::bigint ORDER BY id LIMIT $3::bigint",
        {P(device_id), P(to_device_after), P(static_cast<int64_t>(limit) + 1)});
    if (!r.ok()) return r.error();
    for (int i = 0; i < r->rows(); ++i) {
      if (page.to_device.size() == static_cast<size_t>(limit)) {
        page.has_more = true;
        break;
      }
      page.to_device.push_back({r->i64(i, 0), r->str(i, 1), r->str(i, 2), r->str(i, 3),
                                r->str(i, 4), r->str(i, 5), r->i64(i, 6)});
    }
  }
  return page;
}

namespace {

constexpr const char* kMarkSql =
    "SELECT o_outcome, o_delivered_before, o_read_before, o_delivered, o_read, o_senders "
    "FROM parley_mark_receipt($1, $2, $3, $4::bigint, $5::boolean, $6::bigint, $7::bigint)";

// parley_mark_receipt's answer as the mark's result.
Result<ReceiptChange> FinishMark(Result<PgResult> r, const std::string& user_id, int64_t now) {
  auto outcome = msg::FunctionOutcome(r, "mark", 0);
  if (!outcome.ok()) return outcome.error();
  ReceiptChange out;
  out.at = now;
  out.delivered_seq = r->i64(0, 3);
  out.read_seq = r->i64(0, 4);
  out.delivered_advanced = out.delivered_seq > r->i64(0, 1);
  out.read_advanced = out.read_seq > r->i64(0, 2);
  if (!out.delivered_advanced && !out.read_advanced) return out;
  out.recipient_ids = msg::DecodeList(r->str(0, 5));
  out.recipient_ids.push_back(user_id);
  return out;
}

}  // namespace

void PostgresStore::MarkReceipt(std::string user_id, std::string device_id,
                                std::string conversation_id, int64_t up_to_seq, bool read,
                                int64_t now, Done<ReceiptChange> done) {
  JobOptions options;
  options.lock_keys = {conversation_id};
  std::vector<PgParam> params = {P(conversation_id), P(user_id), P(device_id), P(up_to_seq),
                                 P(read), P(now), P(kReceiptSenderWindow)};
  writer().SubmitStatement<ReceiptChange>(
      kMarkSql, std::move(params),
      [user_id, now](PgConn&, Result<PgResult> r) { return FinishMark(std::move(r), user_id, now); },
      std::move(done), std::move(options));
}

Result<MessageStatus> PostgresStore::GetMessageStatus(std::string_view message_id) {
  auto msg = GetMessage(message_id);
  if (!msg.ok()) return msg.error();
  auto cr = Reader();
  if (!cr.ok()) return cr.error();
  MessageStatus out;
  out.message = std::move(*msg);
  const Message& m = out.message;
  // Recipients: members who could see the message, not the sender; for each, the time of the
  // first mark of each kind that covered it.
  auto r = (*cr)->Exec(
      "SELECT m.user_id,"
      " COALESCE((SELECT at FROM receipt_log l WHERE l.conversation_id = $1"
      " AND l.user_id = m.user_id AND l.kind = 0 AND l.up_to_seq >= $3::bigint"
      " ORDER BY l.up_to_seq LIMIT 1), 0),"
      " COALESCE((SELECT at FROM receipt_log l WHERE l.conversation_id = $1"
      " AND l.user_id = m.user_id AND l.kind = 1 AND l.up_to_seq >= $3::bigint"
      " ORDER BY l.up_to_seq LIMIT 1), 0)"
      " FROM conversation_members m WHERE m.conversation_id = $1 AND m.user_id <> $2"
      " AND m.joined_seq < $3::bigint AND (m.left_seq IS NULL OR m.left_seq >= $3::bigint)"
      " ORDER BY m.user_id",
      {P(m.conversation_id), P(m.sender_id), P(m.seq)});
  if (!r.ok()) return r.error();
  out.receipts.reserve(r->rows());
  for (int i = 0; i < r->rows(); ++i)
    out.receipts.push_back({r->str(i, 0), r->i64(i, 1), r->i64(i, 2)});
  return out;
}

void PostgresStore::EnqueueToDevice(std::vector<ToDeviceMessage> messages, ToDeviceCap cap,
                                    Done<std::vector<ToDeviceMessage>> done) {
  // The devices' keys are the job's own per-device locks below, taken early and in order.
  JobOptions options;
  for (const auto& m : messages) options.lock_keys.push_back(m.to_device_id);
  writer().Submit<std::vector<ToDeviceMessage>>(
      [messages = std::move(messages), cap](PgConn& c) -> Result<std::vector<ToDeviceMessage>> {
        std::vector<ToDeviceMessage> out = messages;  // the job may be re-run: keep the input
        for (auto& m : out) {
          auto d = c.Exec(
              "SELECT 1 FROM devices WHERE device_id = $1 AND user_id = $2 AND revoked_at IS NULL",
              {P(m.to_device_id), P(m.to_user_id)});
          if (!d.ok()) return d.error();
          if (d->rows() == 0)
            return MakeError(ErrorCode::kNotFound, "no such device: " + m.to_device_id);
          auto lock = c.Exec("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                             {P(m.to_device_id)});
          if (!lock.ok()) return lock.error();
          if (cap.max_messages > 0 || cap.max_bytes > 0) {
            // Under the device's lock: no other node queues for it until this commits.
            auto q = c.Exec(
                "SELECT COUNT(*), COALESCE(SUM(octet_length(body)), 0)::bigint FROM to_device "
                "WHERE to_device_id = $1",
                {P(m.to_device_id)});
            if (!q.ok()) return q.error();
            const int64_t n = q->i64(0, 0), bytes = q->i64(0, 1);
            if (!ToDeviceFits(cap, n, bytes, static_cast<int64_t>(m.body.size())))
              return ToDeviceQueueFull(m.to_device_id, n, bytes, cap);
          }
          auto r = c.Exec(
              "INSERT INTO to_device(to_device_id, to_user_id, sender_id, sender_device_id, body, "
              "created_at) VALUES ($1, $2, $3, $4, $5, $6::bigint) RETURNING id",
              {P(m.to_device_id), P(m.to_user_id), P(m.sender_id), P(m.sender_device_id),
               P(m.body), P(m.created_at)});
          if (!r.ok()) return r.error();
          m.id = r->i64(0, 0);
        }
        return out;
      },
      std::move(done), std::move(options));
}

void PostgresStore::AckToDevice(std::string device_id, int64_t up_to_id, Done<Unit> done) {
  writer().Submit<Unit>(
      [=](PgConn& c) -> Result<Unit> {
        auto r = c.Exec("DELETE FROM to_device WHERE to_device_id = $1 AND id <= $2::bigint",
                        {P(device_id), P(up_to_id)});
        if (!r.ok()) return r.error();
        return Unit{};
      },
      std::move(done));
}

Result<int64_t> PostgresStore::DeviceCursor(std::string_view device_id,
                                            std::string_view conversation_id) {
  auto cr = Reader();
  if (!cr.ok()) return cr.error();
  auto r = (*cr)->Exec(
      "SELECT delivered_seq FROM device_cursors WHERE device_id = $1 AND conversation_id = $2",
      {P(device_id), P(conversation_id)});
  if (!r.ok()) return r.error();
  return r->rows() > 0 ? r->i64(0, 0) : int64_t{0};
}

Result<std::vector<std::string>> PostgresStore::ActiveMembers(std::string_view conversation_id) {
  auto cr = Reader();
  if (!cr.ok()) return cr.error();
  return msg::MemberIds(**cr, conversation_id);
}

Result<bool> PostgresStore::CanSeeMedia(std::string_view user_id, std::string_view media_id) {
  auto cr = Reader();
  if (!cr.ok()) return cr.error();
  auto r = (*cr)->Exec(
      "SELECT 1 FROM message_media mm JOIN conversation_members m "
      "ON m.conversation_id = mm.conversation_id AND m.user_id = $1 "
      "WHERE mm.media_id = $2 AND mm.seq > m.joined_seq "
      "AND (m.left_seq IS NULL OR mm.seq <= m.left_seq) LIMIT 1",
      {P(user_id), P(media_id)});
  if (!r.ok()) return r.error();
  return r->rows() > 0;
}

Result<std::vector<std::string>> PostgresStore::Contacts(std::string_view user_id) {
  auto cr = Reader();
  if (!cr.ok()) return cr.error();
  auto r = (*cr)->Exec(
      "SELECT DISTINCT b.user_id FROM conversation_members a JOIN conversation_members b "
      "ON a.conversation_id = b.conversation_id WHERE a.user_id = $1 AND a.left_seq IS NULL "
      "AND b.left_seq IS NULL AND b.user_id <> $1 ORDER BY b.user_id",
      {P(user_id)});
  if (!r.ok()) return r.error();
  std::vector<std::string> out;
  out.reserve(r->rows());
  for (int i = 0; i < r->rows(); ++i) out.push_back(r->str(i, 0));
  return out;
}

Result<bool> PostgresStore::SharesConversation(std::string_view a, std::string_view b) {
  auto cr = Reader();
  if (!cr.ok()) return cr.error();
  auto r = (*cr)->Exec(
      "SELECT 1 FROM conversation_members x JOIN conversation_members y "
      "ON x.conversation_id = y.conversation_id WHERE x.user_id = $1 AND y.user_id = $2 "
      "AND x.left_seq IS NULL AND y.left_seq IS NULL LIMIT 1",
      {P(a), P(b)});
  if (!r.ok()) return r.error();
  return r->rows() > 0;
}

}  // namespace parley::storage::postgres
