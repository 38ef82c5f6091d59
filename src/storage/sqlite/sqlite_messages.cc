// SqliteStore: MessageStore methods for sending and reading messages.
#include <boost/json.hpp>

#include "common/ids.h"
#include "common/time.h"
#include "storage/sqlite/sqlite_store.h"

namespace parley::storage::sqlite {
namespace detail {

const char* const kMessageColumns =
    "conversation_id, seq, message_id, sender_id, sender_device_id, created_at, content_type, "
    "encryption, body, media_ids, search_tokens, reply_to";

namespace {
std::vector<std::string> DecodeList(const std::string& text) {
  std::vector<std::string> out;
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& e : v.as_array())
    if (e.is_string()) out.emplace_back(e.as_string());
  return out;
}
}  // namespace

Message ReadMessage(const Stmt& s, int i) {
  Message m;
  m.conversation_id = s.Text(i + 0);
  m.seq = s.Int(i + 1);
  m.message_id = s.Text(i + 2);
  m.sender_id = s.Text(i + 3);
  m.sender_device_id = s.Text(i + 4);
  m.created_at = s.Int(i + 5);
  m.content_type = s.Text(i + 6);
  m.encryption = s.Text(i + 7);
  m.body = s.Text(i + 8);
  if (!s.IsNull(i + 9)) m.media_ids = DecodeList(s.Text(i + 9));
  if (!s.IsNull(i + 10)) m.search_tokens = DecodeList(s.Text(i + 10));
  m.reply_to = s.OptText(i + 11);
  return m;
}

Result<std::vector<std::string>> MemberIds(SqliteConn& c, std::string_view conversation_id) {
  Stmt s = c.Prepare(
      "SELECT user_id FROM conversation_members WHERE conversation_id = ? AND left_seq IS NULL");
  s.Bind(1, conversation_id);
  return s.Texts();
}

Result<Message> MessageAt(SqliteConn& c, std::string_view conversation_id, int64_t seq) {
  Stmt s = c.Prepare(
      "SELECT conversation_id, seq, message_id, sender_id, sender_device_id, created_at, "
      "content_type, encryption, body, media_ids, search_tokens, reply_to FROM messages "
      "WHERE conversation_id = ? AND seq = ?");
  s.Bind(1, conversation_id).Bind(2, seq);
  auto row = s.Step();
  if (!row.ok()) return row.error();
  if (!*row) return MakeError(ErrorCode::kNotFound, "no such message");
  return detail::ReadMessage(s, 0);
}

}  // namespace detail

namespace {

std::optional<std::string> EncodeList(const std::vector<std::string>& items, bool keep_empty) {
  if (items.empty() && !keep_empty) return std::nullopt;
  boost::json::array a;
  for (const auto& i : items) a.emplace_back(i);
  return boost::json::serialize(a);
}


Status InsertMessage(SqliteConn& c, const Message& m) {
  Stmt s = c.Prepare(
      "INSERT INTO messages(conversation_id, seq, message_id, sender_id, sender_device_id, "
      "created_at, content_type, encryption, body, media_ids, search_tokens, reply_to) "
      "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
  auto r = s.Bind(1, m.conversation_id).Bind(2, m.seq).Bind(3, m.message_id).Bind(4, m.sender_id)
               .Bind(5, m.sender_device_id).Bind(6, m.created_at).Bind(7, m.content_type)
               .Bind(8, m.encryption).Bind(9, m.body).Bind(10, EncodeList(m.media_ids, false))
               .Bind(11, m.search_tokens ? EncodeList(*m.search_tokens, true) : std::nullopt)
               .Bind(12, m.reply_to).Run();
  if (!r.ok()) return r.error();
  for (const auto& media_id : m.media_ids) {
    Stmt l = c.Prepare(
        "INSERT INTO message_media(media_id, conversation_id, seq) VALUES (?,?,?) "
        "ON CONFLICT DO NOTHING");
    auto rl = l.Bind(1, media_id).Bind(2, m.conversation_id).Bind(3, m.seq).Run();
    if (!rl.ok()) return rl.error();
  }
  return OkStatus();
}

Result<AppendResult> AppendTx(SqliteConn& c, const AppendRequest& req) {
  AppendResult out;
  {
    Stmt d = c.Prepare(
        "SELECT conversation_id, seq FROM send_dedup WHERE device_id = ? AND client_msg_id = ?");
    d.Bind(1, req.sender_device_id).Bind(2, req.client_msg_id);
    auto row = d.Step();
    if (!row.ok()) return row.error();
    if (*row) {
      std::string conv = d.Text(0);
      int64_t seq = d.Int(1);
      auto m = detail::MessageAt(c, conv, seq);
      if (!m.ok()) return m.error();
      out.message = std::move(*m);
      out.duplicate = true;
      return out;
    }
  }
  int64_t now = NowMs();
  int64_t seq = 0;
  {
    // Takes the next seq if the sender is an active member: one statement on the common path.
    Stmt s = c.Prepare(
        "UPDATE conversations SET last_seq = last_seq + 1, last_message_at = ?2 "
        "WHERE conversation_id = ?1 AND EXISTS (SELECT 1 FROM conversation_members m "
        "WHERE m.conversation_id = ?1 AND m.user_id = ?3 AND m.left_seq IS NULL) "
        "RETURNING last_seq");
    s.Bind(1, req.conversation_id).Bind(2, now).Bind(3, req.sender_id);
    auto row = s.Step();
    if (!row.ok()) return row.error();
    if (*row) seq = s.Int(0);
  }
  if (seq == 0) {
    Stmt e = c.Prepare("SELECT 1 FROM conversations WHERE conversation_id = ?");
    e.Bind(1, req.conversation_id);
    auto exists = e.Step();
    if (!exists.ok()) return exists.error();
    if (*exists) return MakeError(ErrorCode::kForbidden, "not a member of this conversation");
    if (!req.direct_pair) return MakeError(ErrorCode::kNotFound, "no such conversation");
    bool member = false;
    Stmt ins = c.Prepare(
        "INSERT INTO conversations(conversation_id, type, created_at, last_seq, last_message_at) "
        "VALUES (?, 'direct', ?, 1, ?)");
    auto r = ins.Bind(1, req.conversation_id).Bind(2, now).Bind(3, now).Run();
    if (!r.ok()) return r.error();
    for (const auto& u : {req.direct_pair->first, req.direct_pair->second}) {
      Stmt mi = c.Prepare(
          "INSERT INTO conversation_members(conversation_id, user_id, joined_seq) "
          "VALUES (?,?,0) ON CONFLICT DO NOTHING");
      auto rm = mi.Bind(1, req.conversation_id).Bind(2, u).Run();
      if (!rm.ok()) return rm.error();
      member = member || u == req.sender_id;
    }
    if (!member) return MakeError(ErrorCode::kForbidden, "not a member of this conversation");
    seq = 1;
  }
  out.message = NewMessage(req, NewUuidV7(), seq, now);
  const Message& m = out.message;
  PARLEY_TRY(InsertMessage(c, m));
  {
    Stmt s = c.Prepare(
        "INSERT INTO send_dedup(device_id, client_msg_id, conversation_id, seq) VALUES (?,?,?,?)");
    auto r = s.Bind(1, req.sender_device_id).Bind(2, req.client_msg_id).Bind(3, m.conversation_id)
                 .Bind(4, seq).Run();
    if (!r.ok()) return r.error();
  }
  {
    // The sending device and user are caught up with their own message if they were with
    // everything before it: no pending copy for the device, no unread for the user. "Caught up"
    // is the device's cursor as Pending reads it (no row yet: from joined_seq), so a device
    // that replies before fetching keeps what it has not had pending.
    Stmt s = c.Prepare(
        "INSERT INTO device_cursors(device_id, conversation_id, delivered_seq) "
        "SELECT ?1, ?2, ?3 FROM conversation_members m LEFT JOIN device_cursors d "
        "ON d.device_id = ?1 AND d.conversation_id = ?2 WHERE m.conversation_id = ?2 "
        "AND m.user_id = ?4 AND MAX(COALESCE(d.delivered_seq, 0), m.joined_seq) = ?3 - 1 "
        "ON CONFLICT DO UPDATE SET delivered_seq = excluded.delivered_seq");
    auto r = s.Bind(1, m.sender_device_id).Bind(2, m.conversation_id).Bind(3, seq)
                 .Bind(4, m.sender_id).Run();
    if (!r.ok()) return r.error();
    Stmt u = c.Prepare(
        "UPDATE conversation_members SET read_seq = ?3, delivered_seq = MAX(delivered_seq, ?3) "
        "WHERE conversation_id = ?1 AND user_id = ?2 AND read_seq = ?3 - 1");
    auto ru = u.Bind(1, m.conversation_id).Bind(2, m.sender_id).Bind(3, seq).Run();
    if (!ru.ok()) return ru.error();
  }
  auto members = detail::MemberIds(c, m.conversation_id);
  if (!members.ok()) return members.error();
  out.member_ids = std::move(*members);
  return out;
}

// AppendTx on the writer's state: the seq, the sender's membership and marks, the device's
// cursor and the member list come from memory; what it writes is the send_dedup row (whose
// conflict tells a duplicate), the message, and the sender's own marks when they move. The
// conversation's row is written once per batch (HotState::Flush). Anything else (a conversation
// to create, a sender who is not an active member) runs cold, as AppendTx.
Result<AppendResult> AppendHot(SqliteConn& c, HotState& state, const AppendRequest& req) {
  auto found = state.Find(c, req.conversation_id);
  if (!found.ok()) return found.error();
  HotState::Conversation* conv = *found;
  HotState::Member* sender = conv ? conv->FindMember(req.sender_id) : nullptr;
  if (!sender) return state.Cold();
  auto cursor = state.Cursor(c, req.sender_device_id, req.conversation_id);
  if (!cursor.ok()) return cursor.error();
  const int64_t seq = conv->last_seq + 1;
  const int64_t now = NowMs();
  AppendResult out;
  {
    Stmt d = c.Prepare(
        "INSERT INTO send_dedup(device_id, client_msg_id, conversation_id, seq) VALUES (?,?,?,?) "
        "ON CONFLICT DO NOTHING");
    auto r = d.Bind(1, req.sender_device_id).Bind(2, req.client_msg_id)
                 .Bind(3, req.conversation_id).Bind(4, seq).Run();
    if (!r.ok()) return r.error();
    if (*r == 0) {  // seen before: answer with the first message, write nothing
      Stmt f = c.Prepare(
          "SELECT conversation_id, seq FROM send_dedup WHERE device_id = ? AND client_msg_id = ?");
      f.Bind(1, req.sender_device_id).Bind(2, req.client_msg_id);
      auto row = f.Step();
      if (!row.ok()) return row.error();
      if (!*row) return MakeError(ErrorCode::kInternal, "send_dedup row vanished");
      auto m = detail::MessageAt(c, f.Text(0), f.Int(1));
      if (!m.ok()) return m.error();
      out.message = std::move(*m);
      out.duplicate = true;
      return out;
    }
  }
  out.message = NewMessage(req, NewUuidV7(), seq, now);
  const Message& m = out.message;
  PARLEY_TRY(InsertMessage(c, m));
  // The sending device and user are caught up with their own message if they were with
  // everything before it (as in AppendTx).
  const bool cursor_moves = std::max(**cursor, sender->joined_seq) == seq - 1;
  const bool read_moves = sender->read_seq == seq - 1;
  if (cursor_moves) {
    Stmt s = c.Prepare(
        "INSERT INTO device_cursors(device_id, conversation_id, delivered_seq) VALUES (?1,?2,?3) "
        "ON CONFLICT DO UPDATE SET delivered_seq = excluded.delivered_seq");
    auto r = s.Bind(1, m.sender_device_id).Bind(2, m.conversation_id).Bind(3, seq).Run();
    if (!r.ok()) return r.error();
  }
  if (read_moves) {
    Stmt u = c.Prepare(
        "UPDATE conversation_members SET read_seq = ?3, delivered_seq = MAX(delivered_seq, ?3) "
        "WHERE conversation_id = ?1 AND user_id = ?2");
    auto r = u.Bind(1, m.conversation_id).Bind(2, m.sender_id).Bind(3, seq).Run();
    if (!r.ok()) return r.error();
  }
  // Every statement succeeded: now the state moves.
  if (cursor_moves) **cursor = seq;
  if (read_moves) {
    sender->read_seq = seq;
    sender->delivered_seq = std::max(sender->delivered_seq, seq);
  }
  state.Touch(conv, seq, now);
  out.member_ids = conv->member_ids;
  return out;
}

}  // namespace

void SqliteStore::Append(AppendRequest req, Done<AppendResult> done) {
  writer_->SubmitHot<AppendResult>(
      [req = std::move(req)](SqliteConn& c, HotState* state) {
        return state ? AppendHot(c, *state, req) : AppendTx(c, req);
      },
      std::move(done));
}

Result<Conversation> SqliteStore::GetConversation(std::string_view conversation_id) {
  auto c = FreshReader();
  if (!c.ok()) return c.error();
  Stmt s = (*c)->Prepare(
      "SELECT conversation_id, type, COALESCE(group_id, ''), title, created_at, last_seq, "
      "last_message_at FROM conversations WHERE conversation_id = ?");
  s.Bind(1, conversation_id);
  auto row = s.Step();
  if (!row.ok()) return row.error();
  if (!*row) return MakeError(ErrorCode::kNotFound, "no such conversation");
  return Conversation{s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4), s.Int(5), s.Int(6)};
}

Result<Membership> SqliteStore::GetMembership(std::string_view conversation_id,
                                              std::string_view user_id) {
  auto c = FreshReader();
  if (!c.ok()) return c.error();
  Stmt s = (*c)->Prepare(
      "SELECT joined_seq, left_seq, delivered_seq, read_seq FROM conversation_members "
      "WHERE conversation_id = ? AND user_id = ?");
  s.Bind(1, conversation_id).Bind(2, user_id);
  auto row = s.Step();
  if (!row.ok()) return row.error();
  if (!*row) return MakeError(ErrorCode::kNotFound, "not a member");
  Membership m;
  m.conversation_id = std::string(conversation_id);
  m.user_id = std::string(user_id);
  m.joined_seq = s.Int(0);
  if (!s.IsNull(1)) m.left_seq = s.Int(1);
  m.delivered_seq = s.Int(2);
  m.read_seq = s.Int(3);
  return m;
}

Result<std::pair<std::vector<Message>, bool>> SqliteStore::History(
    std::string_view conversation_id, int64_t min_seq, int64_t max_seq, int64_t after_seq,
    int64_t before_seq, bool ascending, int limit) {
  auto c = FreshReader();
  if (!c.ok()) return c.error();
  int64_t lo = std::max(min_seq, after_seq + 1);
  int64_t hi = std::min(max_seq, before_seq - 1);
  std::pair<std::vector<Message>, bool> out{{}, false};
  if (lo > hi) return out;
  Stmt s = (*c)->Prepare(
      ascending
          ? "SELECT conversation_id, seq, message_id, sender_id, sender_device_id, created_at, "
            "content_type, encryption, body, media_ids, search_tokens, reply_to FROM messages "
            "WHERE conversation_id = ? AND seq >= ? AND seq <= ? ORDER BY seq ASC LIMIT ?"
          : "SELECT conversation_id, seq, message_id, sender_id, sender_device_id, created_at, "
            "content_type, encryption, body, media_ids, search_tokens, reply_to FROM messages "
            "WHERE conversation_id = ? AND seq >= ? AND seq <= ? ORDER BY seq DESC LIMIT ?");
  s.Bind(1, conversation_id).Bind(2, lo).Bind(3, hi).Bind(4, static_cast<int64_t>(limit) + 1);
  while (true) {
    auto row = s.Step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    if (out.first.size() == static_cast<size_t>(limit)) {
      out.second = true;
      break;
    }
    out.first.push_back(detail::ReadMessage(s, 0));
  }
  return out;
}

Result<Message> SqliteStore::GetMessage(std::string_view message_id) {
  auto c = FreshReader();
  if (!c.ok()) return c.error();
  Stmt s = (*c)->Prepare(
      "SELECT conversation_id, seq, message_id, sender_id, sender_device_id, created_at, "
      "content_type, encryption, body, media_ids, search_tokens, reply_to FROM messages "
      "WHERE message_id = ?");
  s.Bind(1, message_id);
  auto row = s.Step();
  if (!row.ok()) return row.error();
  if (!*row) return MakeError(ErrorCode::kNotFound, "no such message");
  return detail::ReadMessage(s, 0);
}

}  // namespace parley::storage::sqlite
