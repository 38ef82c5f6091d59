// SqliteStore: MessageStore methods for sync: conversation lists, pending messages, receipts,
// to-device queues and contacts.
#include "common/time.h"
#include "storage/sqlite/sqlite_store.h"

namespace parley::storage::sqlite {
namespace {

constexpr int kDelivered = 0;
constexpr int kRead = 1;


Result<int64_t> FirstReceiptAt(SqliteConn& c, std::string_view conv, std::string_view user,
                               int kind, int64_t seq) {
  Stmt s = c.Prepare(
      "SELECT at FROM receipt_log WHERE conversation_id = ? AND user_id = ? AND kind = ? "
      "AND up_to_seq >= ? ORDER BY up_to_seq LIMIT 1");
  s.Bind(1, conv).Bind(2, user).Bind(3, int64_t{kind}).Bind(4, seq);
  auto row = s.Step();
  if (!row.ok()) return row.error();
  return *row ? s.Int(0) : int64_t{0};
}

}  // namespace

Result<std::vector<ConversationSummary>> SqliteStore::ListConversations(std::string_view user_id,
                                                                        int limit) {
  auto cr = FreshReader();
  if (!cr.ok()) return cr.error();
  SqliteConn& c = **cr;
  std::vector<ConversationSummary> out;
  {
    Stmt s = c.Prepare(
        "SELECT c.conversation_id, c.type, COALESCE(c.group_id, ''), c.title, c.created_at, "
        "c.last_seq, c.last_message_at, m.joined_seq, m.left_seq, m.delivered_seq, m.read_seq "
        "FROM conversation_members m JOIN conversations c ON c.conversation_id = m.conversation_id "
        "WHERE m.user_id = ? ORDER BY MAX(c.last_message_at, c.created_at) DESC, "
        "c.conversation_id LIMIT ?");
    s.Bind(1, user_id).Bind(2, static_cast<int64_t>(limit));
    while (true) {
      auto row = s.Step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      ConversationSummary cs;
      cs.conversation = {s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4), s.Int(5), s.Int(6)};
      cs.membership.conversation_id = cs.conversation.conversation_id;
      cs.membership.user_id = std::string(user_id);
      cs.membership.joined_seq = s.Int(7);
      if (!s.IsNull(8)) cs.membership.left_seq = s.Int(8);
      cs.membership.delivered_seq = s.Int(9);
      cs.membership.read_seq = s.Int(10);
      out.push_back(std::move(cs));
    }
  }
  for (auto& cs : out) {
    const std::string& id = cs.conversation.conversation_id;
    if (cs.conversation.type == "direct") {
      Stmt p = c.Prepare(
          "SELECT m.user_id, u.display_name FROM conversation_members m "
          "JOIN users u ON u.user_id = m.user_id WHERE m.conversation_id = ? "
          "ORDER BY m.user_id = ? LIMIT 1");
      p.Bind(1, id).Bind(2, user_id);
      auto row = p.Step();
      if (!row.ok()) return row.error();
      if (*row) {
        cs.peer_user_id = p.Text(0);
        cs.conversation.title = p.Text(1);
      }
    }
    int64_t top = cs.membership.visible_max(cs.conversation.last_seq);
    if (top > cs.membership.joined_seq) {
      auto m = detail::MessageAt(c, id, top);
      if (!m.ok()) return m.error();
      cs.last_message = std::move(*m);
    }
    int64_t from = std::max(cs.membership.read_seq, cs.membership.joined_seq);
    if (top > from) {
      Stmt u = c.Prepare(
          "SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE conversation_id = ? AND seq > ? "
          "AND seq <= ? AND sender_id != ? LIMIT 100000)");
      u.Bind(1, id).Bind(2, from).Bind(3, top).Bind(4, user_id);
      auto row = u.Step();
      if (!row.ok()) return row.error();
      cs.unread_count = u.Int(0);
    }
  }
  return out;
}

Result<PendingPage> SqliteStore::Pending(std::string_view user_id, std::string_view device_id,
                                         int limit, const SeqFloors& floors,
                                         int64_t to_device_after) {
  auto cr = FreshReader();
  if (!cr.ok()) return cr.error();
  SqliteConn& c = **cr;
  struct Range {
    std::string conv;
    int64_t from, to;
  };
  std::vector<Range> ranges;
  {
    Stmt s = c.Prepare(
        "SELECT m.conversation_id, MAX(COALESCE(d.delivered_seq, 0), m.joined_seq), "
        "CASE WHEN m.left_seq IS NULL THEN c.last_seq ELSE MIN(m.left_seq, c.last_seq) END AS top "
        "FROM conversation_members m JOIN conversations c ON c.conversation_id = m.conversation_id "
        "LEFT JOIN device_cursors d ON d.device_id = ?2 AND d.conversation_id = m.conversation_id "
        "WHERE m.user_id = ?1 AND top > MAX(COALESCE(d.delivered_seq, 0), m.joined_seq) "
        "ORDER BY c.last_message_at");
    s.Bind(1, user_id).Bind(2, device_id);
    while (true) {
      auto row = s.Step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      Range r{s.Text(0), s.Int(1), s.Int(2)};
      auto f = floors.find(r.conv);
      if (f != floors.end()) r.from = std::max(r.from, f->second);
      if (r.to > r.from) ranges.push_back(std::move(r));
    }
  }
  PendingPage page;
  for (const auto& r : ranges) {
    if (page.messages.size() >= static_cast<size_t>(limit)) {
      page.has_more = true;
      break;
    }
    Stmt s = c.Prepare(
        "SELECT conversation_id, seq, message_id, sender_id, sender_device_id, created_at, "
        "content_type, encryption, body, media_ids, search_tokens, reply_to FROM messages "
        "WHERE conversation_id = ? AND seq > ? AND seq <= ? AND sender_device_id != ? "
        "ORDER BY seq LIMIT ?");
    int64_t room = limit - static_cast<int64_t>(page.messages.size());
    s.Bind(1, r.conv).Bind(2, r.from).Bind(3, r.to).Bind(4, device_id).Bind(5, room + 1);
    while (true) {
      auto row = s.Step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      if (page.messages.size() == static_cast<size_t>(limit)) {
        page.has_more = true;
        break;
      }
      page.messages.push_back(detail::ReadMessage(s, 0));
    }
  }
  {
    Stmt s = c.Prepare(
        "SELECT id, to_device_id, to_user_id, sender_id, sender_device_id, body, created_at "
        "FROM to_device WHERE to_device_id = ? AND id > ? ORDER BY id LIMIT ?");
    s.Bind(1, device_id).Bind(2, to_device_after).Bind(3, static_cast<int64_t>(limit) + 1);
    while (true) {
      auto row = s.Step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      if (page.to_device.size() == static_cast<size_t>(limit)) {
        page.has_more = true;
        break;
      }
      page.to_device.push_back(
          {s.Int(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4), s.Text(5), s.Int(6)});
    }
  }
  return page;
}

namespace {

struct MarkArgs {
  std::string user_id, device_id, conversation_id;
  int64_t up_to_seq = 0;
  bool read = false;
  int64_t now = 0;
};

// What a mark reads: the member's marks, the conversation's top, the device's cursor (-1: none).
struct MarkRows {
  int64_t joined = 0, delivered = 0, read_seq = 0, last_seq = 0, cursor = -1;
  std::optional<int64_t> left;
};

// Writes a mark given what it read; `cursor` is the device's cursor after it.
Result<ReceiptChange> WriteMark(SqliteConn& c, const MarkArgs& a, const MarkRows& rows,
                                int64_t* cursor) {
  ReceiptChange out;
  out.at = a.now;
  *cursor = rows.cursor;
  int64_t top = rows.left ? std::min(*rows.left, rows.last_seq) : rows.last_seq;
  int64_t target = std::max<int64_t>(0, std::min(a.up_to_seq, top));
  if (target > rows.cursor) {  // a mark that moves nothing writes nothing
    Stmt s = c.Prepare(
        "INSERT INTO device_cursors(device_id, conversation_id, delivered_seq) "
        "VALUES (?1,?2,?3) ON CONFLICT DO UPDATE SET "
        "delivered_seq = MAX(delivered_seq, excluded.delivered_seq)");
    auto r = s.Bind(1, a.device_id).Bind(2, a.conversation_id).Bind(3, target).Run();
    if (!r.ok()) return r.error();
    *cursor = target;
  }
  int64_t new_read = a.read ? std::max(rows.read_seq, target) : rows.read_seq;
  int64_t new_delivered = std::max({rows.delivered, target, new_read});
  if (target <= rows.joined) new_delivered = rows.delivered, new_read = rows.read_seq;
  out.delivered_advanced = new_delivered > rows.delivered;
  out.read_advanced = new_read > rows.read_seq;
  out.delivered_seq = new_delivered;
  out.read_seq = new_read;
  if (!out.delivered_advanced && !out.read_advanced) return out;
  Stmt u = c.Prepare(
      "UPDATE conversation_members SET delivered_seq = ?, read_seq = ? "
      "WHERE conversation_id = ? AND user_id = ?");
  auto r = u.Bind(1, new_delivered).Bind(2, new_read).Bind(3, a.conversation_id)
               .Bind(4, a.user_id).Run();
  if (!r.ok()) return r.error();
  for (auto [kind, adv, seq] : {std::tuple{kDelivered, out.delivered_advanced, new_delivered},
                                std::tuple{kRead, out.read_advanced, new_read}}) {
    if (!adv) continue;
    Stmt l = c.Prepare(
        "INSERT INTO receipt_log(conversation_id, user_id, kind, up_to_seq, at) "
        "VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING");
    auto rl = l.Bind(1, a.conversation_id).Bind(2, a.user_id).Bind(3, int64_t{kind})
                  .Bind(4, seq).Bind(5, a.now).Run();
    if (!rl.ok()) return rl.error();
  }
  auto [lo, hi] = out.CoveredRange(rows.delivered, rows.read_seq);
  Stmt w = c.Prepare(
      "SELECT DISTINCT sender_id FROM messages WHERE conversation_id = ? AND seq > ? "
      "AND seq <= ? AND sender_id <> ?");
  w.Bind(1, a.conversation_id).Bind(2, lo).Bind(3, hi).Bind(4, a.user_id);
  auto senders = w.Texts();
  if (!senders.ok()) return senders.error();
  out.recipient_ids = std::move(*senders);
  out.recipient_ids.push_back(a.user_id);
  return out;
}

// A mark from the rows alone.
Result<ReceiptChange> MarkTx(SqliteConn& c, const MarkArgs& a) {
  MarkRows rows;
  {
    // The member's marks, the conversation's top and the device's cursor in one lookup.
    Stmt s = c.Prepare(
        "SELECT m.joined_seq, m.left_seq, m.delivered_seq, m.read_seq, c.last_seq, "
        "d.delivered_seq FROM conversation_members m JOIN conversations c "
        "ON c.conversation_id = m.conversation_id LEFT JOIN device_cursors d "
        "ON d.device_id = ?3 AND d.conversation_id = m.conversation_id "
        "WHERE m.conversation_id = ?1 AND m.user_id = ?2");
    s.Bind(1, a.conversation_id).Bind(2, a.user_id).Bind(3, a.device_id);
    auto row = s.Step();
    if (!row.ok()) return row.error();
    if (!*row) {
      Stmt e = c.Prepare("SELECT 1 FROM conversations WHERE conversation_id = ?");
      e.Bind(1, a.conversation_id);
      auto exists = e.Step();
      if (!exists.ok()) return exists.error();
      if (*exists) return MakeError(ErrorCode::kForbidden, "not a member of this conversation");
      return MakeError(ErrorCode::kNotFound, "no such conversation");
    }
    rows.joined = s.Int(0);
    if (!s.IsNull(1)) rows.left = s.Int(1);
    rows.delivered = s.Int(2);
    rows.read_seq = s.Int(3);
    rows.last_seq = s.Int(4);
    if (!s.IsNull(5)) rows.cursor = s.Int(5);
  }
  int64_t cursor = -1;
  return WriteMark(c, a, rows, &cursor);
}

// A mark on the writer's state (an active member's; anything else runs cold, as MarkTx).
Result<ReceiptChange> MarkHot(SqliteConn& c, HotState& state, const MarkArgs& a) {
  auto found = state.Find(c, a.conversation_id);
  if (!found.ok()) return found.error();
  HotState::Member* member = *found ? (*found)->FindMember(a.user_id) : nullptr;
  if (!member) return state.Cold();
  auto held = state.Cursor(c, a.device_id, a.conversation_id);
  if (!held.ok()) return held.error();
  MarkRows rows;
  rows.joined = member->joined_seq;
  rows.delivered = member->delivered_seq;
  rows.read_seq = member->read_seq;
  rows.last_seq = (*found)->last_seq;
  rows.cursor = **held;
  int64_t cursor = -1;
  auto out = WriteMark(c, a, rows, &cursor);
  if (!out.ok()) return out;
  **held = cursor;  // every statement succeeded: now the state moves
  member->delivered_seq = out->delivered_seq;
  member->read_seq = out->read_seq;
  return out;
}

}  // namespace

void SqliteStore::MarkReceipt(std::string user_id, std::string device_id,
                              std::string conversation_id, int64_t up_to_seq, bool read,
                              int64_t now, Done<ReceiptChange> done) {
  MarkArgs a{std::move(user_id), std::move(device_id), std::move(conversation_id), up_to_seq,
             read, now};
  writer_->SubmitHot<ReceiptChange>(
      [a = std::move(a)](SqliteConn& c, HotState* state) {
        return state ? MarkHot(c, *state, a) : MarkTx(c, a);
      },
      std::move(done));
}

Result<MessageStatus> SqliteStore::GetMessageStatus(std::string_view message_id) {
  auto msg = GetMessage(message_id);
  if (!msg.ok()) return msg.error();
  auto cr = FreshReader();
  if (!cr.ok()) return cr.error();
  SqliteConn& c = **cr;
  MessageStatus out;
  out.message = std::move(*msg);
  const Message& m = out.message;
  std::vector<std::string> recipients;
  {
    Stmt s = c.Prepare(
        "SELECT user_id FROM conversation_members WHERE conversation_id = ? AND user_id != ? "
        "AND joined_seq < ? AND (left_seq IS NULL OR left_seq >= ?) ORDER BY user_id");
    s.Bind(1, m.conversation_id).Bind(2, m.sender_id).Bind(3, m.seq).Bind(4, m.seq);
    while (true) {
      auto row = s.Step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      recipients.push_back(s.Text(0));
    }
  }
  for (auto& u : recipients) {
    Receipt r;
    r.user_id = u;
    auto d = FirstReceiptAt(c, m.conversation_id, u, kDelivered, m.seq);
    if (!d.ok()) return d.error();
    auto rd = FirstReceiptAt(c, m.conversation_id, u, kRead, m.seq);
    if (!rd.ok()) return rd.error();
    r.delivered_at = *d;
    r.read_at = *rd;
    out.receipts.push_back(std::move(r));
  }
  return out;
}

void SqliteStore::EnqueueToDevice(std::vector<ToDeviceMessage> messages, ToDeviceCap cap,
                                  Done<std::vector<ToDeviceMessage>> done) {
  writer_->Submit<std::vector<ToDeviceMessage>>(
      [messages = std::move(messages), cap](SqliteConn& c) mutable
      -> Result<std::vector<ToDeviceMessage>> {
        for (auto& m : messages) {
          Stmt d = c.Prepare(
              "SELECT 1 FROM devices WHERE device_id = ? AND user_id = ? AND revoked_at IS NULL");
          d.Bind(1, m.to_device_id).Bind(2, m.to_user_id);
          auto row = d.Step();
          if (!row.ok()) return row.error();
          if (!*row) return MakeError(ErrorCode::kNotFound, "no such device: " + m.to_device_id);
          if (cap.max_messages > 0 || cap.max_bytes > 0) {
            // The writer is the only one: what this reads stays true until the insert below.
            Stmt q = c.Prepare(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(CAST(body AS BLOB))), 0) FROM to_device "
                "WHERE to_device_id = ?");
            q.Bind(1, m.to_device_id);
            auto waiting = q.Step();
            if (!waiting.ok()) return waiting.error();
            const int64_t n = q.Int(0), bytes = q.Int(1);
            if (!ToDeviceFits(cap, n, bytes, static_cast<int64_t>(m.body.size())))
              return ToDeviceQueueFull(m.to_device_id, n, bytes, cap);
          }
          Stmt s = c.Prepare(
              "INSERT INTO to_device(to_device_id, to_user_id, sender_id, sender_device_id, body, "
              "created_at) VALUES (?,?,?,?,?,?) RETURNING id");
          s.Bind(1, m.to_device_id).Bind(2, m.to_user_id).Bind(3, m.sender_id)
              .Bind(4, m.sender_device_id).Bind(5, m.body).Bind(6, m.created_at);
          auto r = s.Step();
          if (!r.ok()) return r.error();
          m.id = s.Int(0);
          auto rest = s.Run();
          if (!rest.ok()) return rest.error();
        }
        return std::move(messages);
      },
      std::move(done));
}

void SqliteStore::AckToDevice(std::string device_id, int64_t up_to_id, Done<Unit> done) {
  writer_->Submit<Unit>(
      [=](SqliteConn& c) -> Result<Unit> {
        Stmt s = c.Prepare("DELETE FROM to_device WHERE to_device_id = ? AND id <= ?");
        auto r = s.Bind(1, device_id).Bind(2, up_to_id).Run();
        if (!r.ok()) return r.error();
        return Unit{};
      },
      std::move(done));
}

Result<int64_t> SqliteStore::DeviceCursor(std::string_view device_id,
                                          std::string_view conversation_id) {
  auto cr = FreshReader();
  if (!cr.ok()) return cr.error();
  Stmt s = (*cr)->Prepare(
      "SELECT delivered_seq FROM device_cursors WHERE device_id = ? AND conversation_id = ?");
  s.Bind(1, device_id).Bind(2, conversation_id);
  auto row = s.Step();
  if (!row.ok()) return row.error();
  return *row ? s.Int(0) : int64_t{0};
}

Result<std::vector<std::string>> SqliteStore::ActiveMembers(std::string_view conversation_id) {
  auto cr = FreshReader();
  if (!cr.ok()) return cr.error();
  return detail::MemberIds(**cr, conversation_id);
}

Result<bool> SqliteStore::CanSeeMedia(std::string_view user_id, std::string_view media_id) {
  auto cr = FreshReader();
  if (!cr.ok()) return cr.error();
  Stmt s = (*cr)->Prepare(
      "SELECT 1 FROM message_media mm JOIN conversation_members m "
      "ON m.conversation_id = mm.conversation_id AND m.user_id = ? "
      "WHERE mm.media_id = ? AND mm.seq > m.joined_seq "
      "AND (m.left_seq IS NULL OR mm.seq <= m.left_seq) LIMIT 1");
  s.Bind(1, user_id).Bind(2, media_id);
  auto row = s.Step();
  if (!row.ok()) return row.error();
  return *row;
}

Result<std::vector<std::string>> SqliteStore::Contacts(std::string_view user_id) {
  auto cr = FreshReader();
  if (!cr.ok()) return cr.error();
  Stmt s = (*cr)->Prepare(
      "SELECT DISTINCT b.user_id FROM conversation_members a JOIN conversation_members b "
      "ON a.conversation_id = b.conversation_id WHERE a.user_id = ?1 AND a.left_seq IS NULL "
      "AND b.left_seq IS NULL AND b.user_id != ?1");
  s.Bind(1, user_id);
  return s.Texts();
}

Result<bool> SqliteStore::SharesConversation(std::string_view a, std::string_view b) {
  auto cr = FreshReader();
  if (!cr.ok()) return cr.error();
  Stmt s = (*cr)->Prepare(
      "SELECT 1 FROM conversation_members x JOIN conversation_members y "
      "ON x.conversation_id = y.conversation_id WHERE x.user_id = ? AND y.user_id = ? "
      "AND x.left_seq IS NULL AND y.left_seq IS NULL LIMIT 1");
  s.Bind(1, a).Bind(2, b);
  auto row = s.Step();
  if (!row.ok()) return row.error();
  return *row;
}

}  // namespace parley::storage::sqlite
