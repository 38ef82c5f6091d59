// LocalStore: messages (de-duplicated by message_id), their full-text index, and the outbox.
#include "sdk/store/local_store.h"

#include "sdk/store/fts_match.h"

namespace parley::sdk {

namespace {
constexpr const char* kMessageColumns =
    "m.message_id, m.conversation_id, m.seq, m.sender_id, m.sender_device_id, m.created_at, "
    "m.content_type, m.encryption, m.plaintext, m.media_json, m.reply_to, m.status, "
    "m.pending_decrypt, m.raw_body";

LocalMessage ReadMessage(const store::Stmt& s) {
  LocalMessage m;
  m.message_id = s.Text(0);
  m.conversation_id = s.Text(1);
  m.seq = s.Int(2);
  m.sender_id = s.Text(3);
  m.sender_device_id = s.Text(4);
  m.created_at = s.Int(5);
  m.content_type = s.Text(6);
  m.encryption = s.Text(7);
  m.plaintext = s.OptText(8);
  m.media_json = s.Text(9);
  m.reply_to = s.Text(10);
  m.status = s.Text(11);
  m.pending_decrypt = s.Int(12) != 0;
  m.raw_body = s.Text(13);
  return m;
}

Result<std::vector<LocalMessage>> ReadAll(store::Stmt& s) {
  std::vector<LocalMessage> out;
  while (true) {
    auto row = s.Step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(ReadMessage(s));
  }
  return out;
}

bool Searchable(const std::optional<std::string>& plaintext, const std::string& content_type) {
  return plaintext.has_value() && content_type != "system";
}
}  // namespace

Result<bool> LocalStore::PutMessage(const LocalMessage& m) {
  std::lock_guard lock(mu_);
  store::Txn txn(db_);
  PARLEY_TRY(txn.status());
  auto ins = db_.Prepare(
      "INSERT OR IGNORE INTO messages(message_id, conversation_id, seq, sender_id, "
      "sender_device_id, created_at, content_type, encryption, plaintext, media_json, reply_to, "
      "status, pending_decrypt, raw_body, searchable) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)");
  if (!ins.ok()) return ins.error();
  ins->Bind(1, m.message_id).Bind(2, m.conversation_id).Bind(3, m.seq).Bind(4, m.sender_id);
  ins->Bind(5, m.sender_device_id).Bind(6, m.created_at).Bind(7, m.content_type);
  ins->Bind(8, m.encryption).BindOpt(9, m.plaintext).Bind(10, m.media_json).Bind(11, m.reply_to);
  ins->Bind(12, m.status).Bind(13, int64_t{m.pending_decrypt ? 1 : 0});
  ins->Bind(14, m.pending_decrypt ? m.raw_body : std::string());
  ins->Bind(15, int64_t{Searchable(m.plaintext, m.content_type) ? 1 : 0});
  PARLEY_TRY(ins->Run());
  if (db_.Changes() == 0) return false;  // already stored: a duplicate delivery

  bool unread = m.content_type != "system" && m.sender_id != SelfUserId();
  auto conv = db_.Prepare(
      "INSERT INTO conversations(conversation_id, last_seq, unread_count, last_activity_at) "
      "VALUES (?1, ?2, ?3, ?4) ON CONFLICT(conversation_id) DO UPDATE SET "
      "last_seq = MAX(last_seq, excluded.last_seq), "
      "unread_count = unread_count + (CASE WHEN ?3 = 1 AND excluded.last_seq > read_seq "
      "THEN 1 ELSE 0 END), "
      "last_activity_at = MAX(last_activity_at, excluded.last_activity_at)");
  if (!conv.ok()) return conv.error();
  conv->Bind(1, m.conversation_id).Bind(2, m.seq).Bind(3, int64_t{unread ? 1 : 0});
  conv->Bind(4, m.created_at);
  PARLEY_TRY(conv->Run());
  PARLEY_TRY(txn.Commit());
  return true;
}

Result<std::optional<LocalMessage>> LocalStore::GetMessage(const std::string& message_id) {
  std::lock_guard lock(mu_);
  auto s = db_.Prepare(std::string("SELECT ") + kMessageColumns +
                       " FROM messages m WHERE m.message_id = ?1");
  if (!s.ok()) return s.error();
  s->Bind(1, message_id);
  auto row = s->Step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<LocalMessage>();
  return std::optional<LocalMessage>(ReadMessage(*s));
}

Result<std::vector<LocalMessage>> LocalStore::ListMessages(const std::string& conversation_id,
                                                           int64_t before_seq, int limit) {
  std::lock_guard lock(mu_);
  auto s = db_.Prepare(std::string("SELECT ") + kMessageColumns +
                       " FROM messages m WHERE m.conversation_id = ?1 AND (?2 <= 0 OR m.seq < ?2)"
                       " ORDER BY m.seq DESC LIMIT ?3");
  if (!s.ok()) return s.error();
  s->Bind(1, conversation_id).Bind(2, before_seq).Bind(3, int64_t{limit});
  return ReadAll(*s);
}

Result<std::vector<LocalMessage>> LocalStore::ListPendingDecrypt(int limit) {
  std::lock_guard lock(mu_);
  auto s = db_.Prepare(std::string("SELECT ") + kMessageColumns +
                       " FROM messages m WHERE m.pending_decrypt = 1 ORDER BY m.rid LIMIT ?1");
  if (!s.ok()) return s.error();
  s->Bind(1, int64_t{limit});
  return ReadAll(*s);
}

Result<Unit> LocalStore::SetDecrypted(const std::string& message_id, const std::string& plaintext,
                                      const std::string& content_type,
                                      const std::string& media_json) {
  std::lock_guard lock(mu_);
  auto s = db_.Prepare(
      "UPDATE messages SET plaintext = ?2, content_type = ?3, media_json = ?4, "
      "pending_decrypt = 0, raw_body = '', searchable = (?3 <> 'system') WHERE message_id = ?1");
  if (!s.ok()) return s.error();
  s->Bind(1, message_id).Bind(2, plaintext).Bind(3, content_type).Bind(4, media_json);
  PARLEY_TRY(s->Run());
  if (db_.Changes() == 0) return MakeError(ErrorCode::kNotFound, "no such message");
  return Unit{};
}

Result<Unit> LocalStore::SetMessageStatus(const std::string& message_id,
                                          const std::string& status) {
  std::lock_guard lock(mu_);
  auto s = db_.Prepare("UPDATE messages SET status = ?2 WHERE message_id = ?1");
  if (!s.ok()) return s.error();
  s->Bind(1, message_id).Bind(2, status);
  PARLEY_TRY(s->Run());
  if (db_.Changes() == 0) return MakeError(ErrorCode::kNotFound, "no such message");
  return Unit{};
}

Result<std::vector<LocalMessage>> LocalStore::Search(const std::string& query,
                                                     const std::string& conversation_id,
                                                     int limit) {
  std::lock_guard lock(mu_);
  auto match = store::BuildLocalMatch(db_.raw(), query);
  if (!match.ok()) return match.error();
  auto s = db_.Prepare(std::string("SELECT ") + kMessageColumns +
                       " FROM message_fts f JOIN messages m ON m.rid = f.rowid"
                       " WHERE message_fts MATCH ?1 AND (?2 = '' OR m.conversation_id = ?2)"
                       " ORDER BY m.created_at DESC, m.rid DESC LIMIT ?3");
  if (!s.ok()) return s.error();
  s->Bind(1, *match).Bind(2, conversation_id).Bind(3, int64_t{limit});
  return ReadAll(*s);
}

// --- outbox ---

Result<Unit> LocalStore::AddOutbox(const OutboxEntry& e) {
  std::lock_guard lock(mu_);
  auto s = db_.Prepare(
      "INSERT OR REPLACE INTO outbox(client_msg_id, conversation_id, to_user_id, body, "
      "content_type, encryption, extra_json, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!s.ok()) return s.error();
  s->Bind(1, e.client_msg_id).Bind(2, e.conversation_id).Bind(3, e.to_user_id).Bind(4, e.body);
  s->Bind(5, e.content_type).Bind(6, e.encryption).Bind(7, e.extra_json).Bind(8, e.created_at);
  return s->Run();
}

Result<Unit> LocalStore::RemoveOutbox(const std::string& client_msg_id) {
  std::lock_guard lock(mu_);
  auto s = db_.Prepare("DELETE FROM outbox WHERE client_msg_id = ?1");
  if (!s.ok()) return s.error();
  s->Bind(1, client_msg_id);
  return s->Run();
}

Result<std::vector<OutboxEntry>> LocalStore::ListOutbox() {
  std::lock_guard lock(mu_);
  auto s = db_.Prepare(
      "SELECT client_msg_id, conversation_id, to_user_id, body, content_type, encryption, "
      "extra_json, created_at FROM outbox ORDER BY seqno");
  if (!s.ok()) return s.error();
  std::vector<OutboxEntry> out;
  while (true) {
    auto row = s->Step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(OutboxEntry{s->Text(0), s->Text(1), s->Text(2), s->Text(3), s->Text(4),
                              s->Text(5), s->Text(6), s->Int(7)});
  }
  return out;
}

}  // namespace parley::sdk
