// PostgresStore: MessageStore methods for sending and reading messages (Append, GetConversation,
// GetMembership, History, GetMessage). Contracts in storage/message_store.h; behaviour follows
// the SQLite adapter (storage/sqlite/sqlite_messages.cc).
//
// Several parleyd nodes may append to one conversation at once. An append is one statement, the
// function parley_append (pg_schema_messages.cc, migration 2), run in the writer's transaction
// under the conversation's lock key (pg_writer.h): it looks up (device, client_msg_id) in
// send_dedup; creates a direct conversation with ON CONFLICT DO NOTHING (a racing node waits on
// the key, then finds it); locks the conversation row; checks the sender's membership (after the
// lock, so a removal committed meanwhile is seen); claims (device, client_msg_id) with the next
// seq (the primary key makes a concurrent claim on another node wait for ours, then see it:
// duplicate); then bumps last_seq, inserts, and catches the sender up. A refusal is decided
// before any write, so the job needs no savepoint.
#include "common/ids.h"
#include "common/time.h"
#include "storage/postgres/pg_msg_rows.h"
#include "storage/postgres/postgres_store.h"

namespace parley::storage::postgres {
namespace {

constexpr const char* kAppendSql =
    "SELECT o_outcome, o_conversation_id, o_seq, o_members FROM parley_append($1, $2, $3, $4, "
    "$5, $6, $7, $8::bigint, $9, $10, $11, $12, $13, $14, $15::text[])";
// The same with the message's outbox entry (PostgresOptions::outbox, pg_outbox.cc).
constexpr const char* kAppendOutboxSql =
    "SELECT o_outcome, o_conversation_id, o_seq, o_members FROM parley_append_outbox($1, $2, $3, "
    "$4, $5, $6, $7, $8::bigint, $9, $10, $11, $12, $13, $14, $15::text[])";

std::vector<PgParam> AppendParams(const AppendRequest& req, const std::string& message_id,
                                  int64_t now) {
  const bool direct = req.direct_pair.has_value();
  return {P(req.conversation_id), direct ? P(req.direct_pair->first) : std::nullopt,
          direct ? P(req.direct_pair->second) : std::nullopt, P(req.sender_id),
          P(req.sender_device_id), P(req.client_msg_id), P(message_id), P(now),
          P(req.content_type), P(req.encryption), P(req.body),
          msg::EncodeList(req.media_ids, false),
          req.search_tokens ? msg::EncodeList(*req.search_tokens, true) : std::nullopt,
          P(req.reply_to), req.media_ids.empty() ? std::nullopt : TextArray(req.media_ids)};
}

// parley_append's answer as the append's result.
Result<AppendResult> FinishAppend(PgConn& c, Result<PgResult> r, const AppendRequest& req,
                                  const std::string& message_id, int64_t now) {
  auto outcome = msg::FunctionOutcome(r, "append", 1);
  if (!outcome.ok()) return outcome.error();
  AppendResult out;
  if (*outcome == 1) {  // a duplicate: the first send of (device, client_msg_id)
    auto first = msg::MessageAt(c, r->str(0, 1), r->i64(0, 2));
    if (!first.ok()) return first.error();
    out.message = std::move(*first);
    out.duplicate = true;
    return out;
  }
  out.message = NewMessage(req, message_id, r->i64(0, 2), now);
  out.member_ids = msg::DecodeList(r->str(0, 3));
  return out;
}

}  // namespace

void PostgresStore::Append(AppendRequest req, Done<AppendResult> done) {
  JobOptions options;
  options.lock_keys = {req.conversation_id};
  // The id and the time are taken once, at submit: a batch that runs again (after a conflict)
  // rolled the first run back, so nothing of it was ever seen.
  std::string message_id = NewUuidV7();
  const int64_t now = NowMs();
  std::vector<PgParam> params = AppendParams(req, message_id, now);
  writer().SubmitStatement<AppendResult>(
      options_.outbox ? kAppendOutboxSql : kAppendSql, std::move(params),
      [req = std::move(req), message_id, now](PgConn& c, Result<PgResult> r) {
        return FinishAppend(c, std::move(r), req, message_id, now);
      },
      std::move(done), std::move(options));
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
