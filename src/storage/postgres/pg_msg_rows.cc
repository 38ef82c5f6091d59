// Row helpers of the PostgreSQL message store; see pg_msg_rows.h.
#include "storage/postgres/pg_msg_rows.h"

#include <boost/json.hpp>

namespace parley::storage::postgres::msg {
std::vector<std::string> DecodeList(const std::string& text) {
  std::vector<std::string> out;
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& e : v.as_array())
    if (e.is_string()) out.emplace_back(e.as_string());
  return out;
}

const char* const kMessageColumns =
    "conversation_id, seq, message_id, sender_id, sender_device_id, created_at, content_type, "
    "encryption, body, media_ids, search_tokens, reply_to";

std::string MessageColumns(std::string_view alias) {
  static constexpr const char* kNames[kMessageColumnCount] = {
      "conversation_id", "seq",  "message_id", "sender_id",     "sender_device_id", "created_at",
      "content_type",    "encryption", "body", "media_ids", "search_tokens",    "reply_to"};
  std::string out;
  for (int i = 0; i < kMessageColumnCount; ++i) {
    if (i) out += ", ";
    out += alias;
    out += '.';
    out += kNames[i];
  }
  return out;
}

Message ReadMessage(const PgResult& r, int row, int i) {
  Message m;
  m.conversation_id = r.str(row, i + 0);
  m.seq = r.i64(row, i + 1);
  m.message_id = r.str(row, i + 2);
  m.sender_id = r.str(row, i + 3);
  m.sender_device_id = r.str(row, i + 4);
  m.created_at = r.i64(row, i + 5);
  m.content_type = r.str(row, i + 6);
  m.encryption = r.str(row, i + 7);
  m.body = r.str(row, i + 8);
  if (!r.null(row, i + 9)) m.media_ids = DecodeList(r.str(row, i + 9));
  if (!r.null(row, i + 10)) m.search_tokens = DecodeList(r.str(row, i + 10));
  m.reply_to = r.opt(row, i + 11);
  return m;
}

PgParam EncodeList(const std::vector<std::string>& items, bool keep_empty) {
  if (items.empty() && !keep_empty) return std::nullopt;
  boost::json::array a;
  for (const auto& item : items) a.emplace_back(item);
  return boost::json::serialize(a);
}

Result<int64_t> FunctionOutcome(const Result<PgResult>& r, std::string_view what,
                                int64_t last_ok) {
  if (!r.ok()) return r.error();
  if (r->rows() != 1) return MakeError(ErrorCode::kInternal, std::string(what) + " returned no outcome");
  const int64_t outcome = r->i64(0, 0);
  if (outcome >= 0 && outcome <= last_ok) return outcome;
  if (outcome == 2) return MakeError(ErrorCode::kForbidden, "not a member of this conversation");
  if (outcome == 3) return MakeError(ErrorCode::kNotFound, "no such conversation");
  return MakeError(ErrorCode::kInternal, std::string(what) + " returned an unknown outcome");
}

Result<std::vector<std::string>> MemberIds(PgConn& c, std::string_view conversation_id) {
  auto r = c.Exec(
      "SELECT user_id FROM conversation_members WHERE conversation_id = $1 AND left_seq IS NULL "
      "ORDER BY user_id",
      {P(conversation_id)});
  if (!r.ok()) return r.error();
  std::vector<std::string> out;
  out.reserve(r->rows());
  for (int i = 0; i < r->rows(); ++i) out.push_back(r->str(i, 0));
  return out;
}

Result<Message> MessageAt(PgConn& c, std::string_view conversation_id, int64_t seq) {
  auto r = c.Exec(std::string("SELECT ") + kMessageColumns +
                      " FROM messages WHERE conversation_id = $1 AND seq = $2::bigint",
                  {P(conversation_id), P(seq)});
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return MakeError(ErrorCode::kNotFound, "no such message");
  return ReadMessage(*r, 0, 0);
}

Result<int64_t> LockConversation(PgConn& c, std::string_view conversation_id) {
  auto r = c.Exec("SELECT last_seq FROM conversations WHERE conversation_id = $1 FOR UPDATE",
                  {P(conversation_id)});
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return MakeError(ErrorCode::kNotFound, "no such conversation");
  return r->i64(0, 0);
}

Result<int64_t> NextSeq(PgConn& c, std::string_view conversation_id, int64_t now) {
  auto r = c.Exec(
      "UPDATE conversations SET last_seq = last_seq + 1, "
      "last_message_at = GREATEST(last_message_at, $2::bigint) WHERE conversation_id = $1 "
      "RETURNING last_seq",
      {P(conversation_id), P(now)});
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return MakeError(ErrorCode::kNotFound, "no such conversation");
  return r->i64(0, 0);
}

Status InsertMessage(PgConn& c, const Message& m) {
  auto r = c.Exec(
      "INSERT INTO messages(conversation_id, seq, message_id, sender_id, sender_device_id, "
      "created_at, content_type, encryption, body, media_ids, search_tokens, reply_to) "
      "VALUES ($1, $2::bigint, $3, $4, $5, $6::bigint, $7, $8, $9, $10, $11, $12)",
      {P(m.conversation_id), P(m.seq), P(m.message_id), P(m.sender_id), P(m.sender_device_id),
       P(m.created_at), P(m.content_type), P(m.encryption), P(m.body),
       EncodeList(m.media_ids, false),
       m.search_tokens ? EncodeList(*m.search_tokens, true) : std::nullopt, P(m.reply_to)});
  if (!r.ok()) return r.error();
  if (!m.media_ids.empty()) {
    auto mm = c.Exec(
        "INSERT INTO message_media(media_id, conversation_id, seq) "
        "SELECT DISTINCT u, $2, $3::bigint FROM unnest($1::text[]) AS u ON CONFLICT DO NOTHING",
        {TextArray(m.media_ids), P(m.conversation_id), P(m.seq)});
    if (!mm.ok()) return mm.error();
  }
  return OkStatus();
}

}  // namespace parley::storage::postgres::msg
