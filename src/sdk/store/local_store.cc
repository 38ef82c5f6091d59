// LocalStore: opening, the schema, the account, conversations, settings and contacts.
// Messages and the outbox are in local_store_messages.cc, the crypto state in
// local_store_state.cc.
#include "sdk/store/local_store.h"

namespace parley::sdk {

namespace {
// Version 1. Later versions append migrations; never edit a released one.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE account (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  server_url TEXT NOT NULL, user_id TEXT NOT NULL, username TEXT NOT NULL,
  device_id TEXT NOT NULL, access_token TEXT NOT NULL, refresh_token TEXT NOT NULL,
  access_expires_at INTEGER NOT NULL DEFAULT 0);
CREATE TABLE conversations (
  conversation_id TEXT PRIMARY KEY, type TEXT NOT NULL DEFAULT '', title TEXT NOT NULL DEFAULT '',
  peer_user_id TEXT NOT NULL DEFAULT '', group_id TEXT NOT NULL DEFAULT '',
  last_seq INTEGER NOT NULL DEFAULT 0, read_seq INTEGER NOT NULL DEFAULT 0,
  unread_count INTEGER NOT NULL DEFAULT 0, last_activity_at INTEGER NOT NULL DEFAULT 0);
CREATE TABLE messages (
  rid INTEGER PRIMARY KEY,
  message_id TEXT NOT NULL UNIQUE,
  conversation_id TEXT NOT NULL, seq INTEGER NOT NULL,
  sender_id TEXT NOT NULL, sender_device_id TEXT NOT NULL, created_at INTEGER NOT NULL,
  content_type TEXT NOT NULL, encryption TEXT NOT NULL,
  plaintext TEXT, media_json TEXT NOT NULL DEFAULT '', reply_to TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT '', pending_decrypt INTEGER NOT NULL DEFAULT 0,
  raw_body TEXT NOT NULL DEFAULT '', searchable INTEGER NOT NULL DEFAULT 0);
CREATE INDEX messages_by_conversation ON messages(conversation_id, seq);
CREATE INDEX messages_pending ON messages(pending_decrypt) WHERE pending_decrypt = 1;
CREATE VIRTUAL TABLE message_fts USING fts5(
  plaintext, content='messages', content_rowid='rid',
  tokenize='unicode61 remove_diacritics 2', prefix='2 3');
CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages WHEN new.searchable = 1 BEGIN
  INSERT INTO message_fts(rowid, plaintext) VALUES (new.rid, new.plaintext);
END;
CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages WHEN old.searchable = 1 BEGIN
  INSERT INTO message_fts(message_fts, rowid, plaintext) VALUES ('delete', old.rid, old.plaintext);
END;
CREATE TRIGGER messages_fts_ud AFTER UPDATE ON messages WHEN old.searchable = 1 BEGIN
  INSERT INTO message_fts(message_fts, rowid, plaintext) VALUES ('delete', old.rid, old.plaintext);
END;
CREATE TRIGGER messages_fts_ui AFTER UPDATE ON messages WHEN new.searchable = 1 BEGIN
  INSERT INTO message_fts(rowid, plaintext) VALUES (new.rid, new.plaintext);
END;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE outbox (
  seqno INTEGER PRIMARY KEY AUTOINCREMENT, client_msg_id TEXT NOT NULL UNIQUE,
  conversation_id TEXT NOT NULL, to_user_id TEXT NOT NULL, body TEXT NOT NULL,
  content_type TEXT NOT NULL, encryption TEXT NOT NULL, extra_json TEXT NOT NULL,
  created_at INTEGER NOT NULL);
CREATE TABLE contacts (
  user_id TEXT PRIMARY KEY, username TEXT NOT NULL, display_name TEXT NOT NULL);
CREATE INDEX contacts_by_username ON contacts(username);
CREATE TABLE crypto_state (
  kind TEXT NOT NULL, id TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (kind, id));
)sql";

LocalConversation ReadConversation(const store::Stmt& s) {
  LocalConversation c;
  c.conversation_id = s.Text(0);
  c.type = s.Text(1);
  c.title = s.Text(2);
  c.peer_user_id = s.Text(3);
  c.group_id = s.Text(4);
  c.last_seq = s.Int(5);
  c.read_seq = s.Int(6);
  c.unread_count = s.Int(7);
  c.last_activity_at = s.Int(8);
  return c;
}
constexpr const char* kConversationColumns =
    "conversation_id, type, title, peer_user_id, group_id, last_seq, read_seq, unread_count, "
    "last_activity_at";

}  // namespace

Result<std::unique_ptr<LocalStore>> LocalStore::Open(const std::string& path) {
  std::unique_ptr<LocalStore> s(new LocalStore());
  PARLEY_TRY(s->db_.Open(path));
  PARLEY_TRY(s->Migrate());
  return s;
}

Result<Unit> LocalStore::Migrate() {
  PARLEY_TRY(db_.Exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"));
  int64_t version = 0;
  {
    auto q = db_.Prepare("SELECT MAX(version) FROM schema_version");
    if (!q.ok()) return q.error();
    auto row = q->Step();
    if (!row.ok()) return row.error();
    version = q->IsNull(0) ? 0 : q->Int(0);
  }
  if (version > kSchemaVersion) {
    return MakeError(ErrorCode::kInternal,
                     "the local database is from a newer version of Parley (schema " +
                         std::to_string(version) + ")");
  }
  if (version < 1) {
    store::Txn txn(db_);
    PARLEY_TRY(txn.status());
    PARLEY_TRY(db_.Exec(kSchemaV1));
    PARLEY_TRY(db_.Exec("INSERT INTO schema_version(version) VALUES (1)"));
    PARLEY_TRY(txn.Commit());
  }
  return Unit{};
}

// --- account ---

Result<std::optional<Account>> LocalStore::GetAccount() {
  std::lock_guard lock(mu_);
  auto s = db_.Prepare(
      "SELECT server_url, user_id, username, device_id, access_token, refresh_token, "
      "access_expires_at FROM account WHERE id = 1");
  if (!s.ok()) return s.error();
  auto row = s->Step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<Account>();
  Account a{s->Text(0), s->Text(1), s->Text(2), s->Text(3), s->Text(4), s->Text(5), s->Int(6)};
  return std::optional<Account>(std::move(a));
}

Result<Unit> LocalStore::SaveAccount(const Account& a) {
  std::lock_guard lock(mu_);
  auto s = db_.Prepare(
      "INSERT OR REPLACE INTO account(id, server_url, user_id, username, device_id, access_token, "
      "refresh_token, access_expires_at) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!s.ok()) return s.error();
  s->Bind(1, a.server_url).Bind(2, a.user_id).Bind(3, a.username).Bind(4, a.device_id);
  s->Bind(5, a.access_token).Bind(6, a.refresh_token).Bind(7, a.access_expires_at);
  return s->Run();
}

Result<Unit> LocalStore::UpdateTokens(const std::string& access_token,
                                      const std::string& refresh_token,
                                      int64_t access_expires_at) {
  std::lock_guard lock(mu_);
  auto s = db_.Prepare(
      "UPDATE account SET access_token = ?1, refresh_token = ?2, access_expires_at = ?3 "
      "WHERE id = 1");
  if (!s.ok()) return s.error();
  s->Bind(1, access_token).Bind(2, refresh_token).Bind(3, access_expires_at);
  PARLEY_TRY(s->Run());
  if (db_.Changes() == 0) return MakeError(ErrorCode::kNotFound, "no account");
  return Unit{};
}

std::string LocalStore::SelfUserId() {
  auto s = db_.Prepare("SELECT user_id FROM account WHERE id = 1");
  if (!s.ok()) return {};
  auto row = s->Step();
  return row.ok() && *row ? s->Text(0) : std::string();
}

// --- conversations ---

Result<Unit> LocalStore::UpsertConversation(const LocalConversation& c) {
  std::lock_guard lock(mu_);
  auto s = db_.Prepare(
      "INSERT INTO conversations(conversation_id, type, title, peer_user_id, group_id, last_seq, "
      "read_seq, unread_count, last_activity_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
      "ON CONFLICT(conversation_id) DO UPDATE SET type = excluded.type, title = excluded.title, "
      "peer_user_id = excluded.peer_user_id, group_id = excluded.group_id, "
      "last_seq = MAX(last_seq, excluded.last_seq), read_seq = MAX(read_seq, excluded.read_seq), "
      "unread_count = excluded.unread_count, "
      "last_activity_at = MAX(last_activity_at, excluded.last_activity_at)");
  if (!s.ok()) return s.error();
  s->Bind(1, c.conversation_id).Bind(2, c.type).Bind(3, c.title).Bind(4, c.peer_user_id);
  s->Bind(5, c.group_id).Bind(6, c.last_seq).Bind(7, c.read_seq).Bind(8, c.unread_count);
  s->Bind(9, c.last_activity_at);
  return s->Run();
}

Result<std::optional<LocalConversation>> LocalStore::GetConversation(const std::string& id) {
  std::lock_guard lock(mu_);
  auto s = db_.Prepare(std::string("SELECT ") + kConversationColumns +
                       " FROM conversations WHERE conversation_id = ?1");
  if (!s.ok()) return s.error();
  s->Bind(1, id);
  auto row = s->Step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<LocalConversation>();
  return std::optional<LocalConversation>(ReadConversation(*s));
}

Result<std::vector<LocalConversation>> LocalStore::ListConversations() {
  std::lock_guard lock(mu_);
  auto s = db_.Prepare(std::string("SELECT ") + kConversationColumns +
                       " FROM conversations ORDER BY last_activity_at DESC, conversation_id");
  if (!s.ok()) return s.error();
  std::vector<LocalConversation> out;
  while (true) {
    auto row = s->Step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(ReadConversation(*s));
  }
  return out;
}

Result<int64_t> LocalStore::CountUnread(const std::string& conversation_id, int64_t read_seq) {
  auto s = db_.Prepare(
      "SELECT COUNT(*) FROM messages WHERE conversation_id = ?1 AND seq > ?2 AND sender_id <> ?3 "
      "AND content_type <> 'system'");
  if (!s.ok()) return s.error();
  s->Bind(1, conversation_id).Bind(2, read_seq).Bind(3, SelfUserId());
  auto row = s->Step();
  if (!row.ok()) return row.error();
  return s->Int(0);
}

Result<Unit> LocalStore::MarkRead(const std::string& conversation_id, int64_t up_to_seq) {
  std::lock_guard lock(mu_);
  store::Txn txn(db_);
  PARLEY_TRY(txn.status());
  auto s = db_.Prepare(
      "INSERT INTO conversations(conversation_id, read_seq) VALUES (?1, ?2) "
      "ON CONFLICT(conversation_id) DO UPDATE SET read_seq = MAX(read_seq, excluded.read_seq)");
  if (!s.ok()) return s.error();
  s->Bind(1, conversation_id).Bind(2, up_to_seq);
  PARLEY_TRY(s->Run());
  auto r = db_.Prepare("SELECT read_seq FROM conversations WHERE conversation_id = ?1");
  if (!r.ok()) return r.error();
  r->Bind(1, conversation_id);
  auto row = r->Step();
  if (!row.ok()) return row.error();
  auto unread = CountUnread(conversation_id, r->Int(0));
  if (!unread.ok()) return unread.error();
  auto u = db_.Prepare("UPDATE conversations SET unread_count = ?2 WHERE conversation_id = ?1");
  if (!u.ok()) return u.error();
  u->Bind(1, conversation_id).Bind(2, *unread);
  PARLEY_TRY(u->Run());
  return txn.Commit();
}

// --- meta ---

Result<std::optional<std::string>> LocalStore::GetMeta(const std::string& key) {
  std::lock_guard lock(mu_);
  auto s = db_.Prepare("SELECT value FROM meta WHERE key = ?1");
  if (!s.ok()) return s.error();
  s->Bind(1, key);
  auto row = s->Step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(s->Text(0));
}

Result<Unit> LocalStore::SetMeta(const std::string& key, const std::string& value) {
  std::lock_guard lock(mu_);
  auto s = db_.Prepare("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)");
  if (!s.ok()) return s.error();
  s->Bind(1, key).Bind(2, value);
  return s->Run();
}

Result<std::string> LocalStore::GetCursor() {
  auto v = GetMeta("sync_cursor");
  if (!v.ok()) return v.error();
  return v->value_or("");
}

Result<Unit> LocalStore::SetCursor(const std::string& cursor) { return SetMeta("sync_cursor", cursor); }

// --- contacts ---

Result<Unit> LocalStore::UpsertContact(const Contact& c) {
  std::lock_guard lock(mu_);
  auto s = db_.Prepare(
      "INSERT OR REPLACE INTO contacts(user_id, username, display_name) VALUES (?1, ?2, ?3)");
  if (!s.ok()) return s.error();
  s->Bind(1, c.user_id).Bind(2, c.username).Bind(3, c.display_name);
  return s->Run();
}

namespace {
Result<std::optional<Contact>> OneContact(store::Db& db, const char* where,
                                          const std::string& arg) {
  auto s = db.Prepare(std::string("SELECT user_id, username, display_name FROM contacts WHERE ") +
                      where);
  if (!s.ok()) return s.error();
  s->Bind(1, arg);
  auto row = s->Step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<Contact>();
  return std::optional<Contact>(Contact{s->Text(0), s->Text(1), s->Text(2)});
}
}  // namespace

Result<std::optional<Contact>> LocalStore::GetContact(const std::string& user_id) {
  std::lock_guard lock(mu_);
  return OneContact(db_, "user_id = ?1", user_id);
}

Result<std::optional<Contact>> LocalStore::FindContactByUsername(const std::string& username) {
  std::lock_guard lock(mu_);
  return OneContact(db_, "username = lower(?1)", username);
}

Result<std::vector<Contact>> LocalStore::ListContacts() {
  std::lock_guard lock(mu_);
  auto s = db_.Prepare("SELECT user_id, username, display_name FROM contacts ORDER BY username");
  if (!s.ok()) return s.error();
  std::vector<Contact> out;
  while (true) {
    auto row = s->Step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(Contact{s->Text(0), s->Text(1), s->Text(2)});
  }
  return out;
}

}  // namespace parley::sdk
