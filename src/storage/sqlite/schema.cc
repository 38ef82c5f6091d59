// Schema migrations of the embedded store's core tables, applied in order at Open. Append only:
// never edit a migration that has shipped; add the next one. Other modules keep their own
// migration list (a "module" in schema_versions) so they never collide with these.
#include <array>

#include "storage/sqlite/sqlite_store.h"

namespace parley::storage::sqlite {
namespace {

constexpr std::array<const char*, 1> kMigrations = {
    // 1: the foundation. Column names follow the seed's data model where it has one.
    R"sql(
CREATE TABLE users(
  user_id TEXT PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'online',
  status_text TEXT NOT NULL DEFAULT '',
  profile_pic_url TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL DEFAULT 0,
  is_admin INTEGER NOT NULL DEFAULT 0);
CREATE TABLE devices(
  device_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  device_name TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL DEFAULT 0,
  revoked_at INTEGER);
CREATE INDEX devices_by_user ON devices(user_id);
CREATE TABLE refresh_tokens(
  token_hash BLOB PRIMARY KEY,
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER,
  revoked_at INTEGER);
CREATE INDEX refresh_tokens_by_device ON refresh_tokens(device_id);
CREATE TABLE denied_tokens(jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
CREATE TABLE device_keys(
  device_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  identity_key TEXT NOT NULL,
  signing_key TEXT NOT NULL,
  spk_id INTEGER NOT NULL,
  spk_public TEXT NOT NULL,
  spk_signature TEXT NOT NULL);
CREATE INDEX device_keys_by_user ON device_keys(user_id);
CREATE TABLE one_time_prekeys(
  device_id TEXT NOT NULL,
  key_id INTEGER NOT NULL,
  public_key TEXT NOT NULL,
  PRIMARY KEY(device_id, key_id)) WITHOUT ROWID;
CREATE TABLE conversations(
  conversation_id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  group_id TEXT,
  title TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  last_seq INTEGER NOT NULL DEFAULT 0,
  last_message_at INTEGER NOT NULL DEFAULT 0);
CREATE TABLE conversation_members(
  conversation_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  joined_seq INTEGER NOT NULL,
  left_seq INTEGER,
  delivered_seq INTEGER NOT NULL DEFAULT 0,
  read_seq INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(conversation_id, user_id)) WITHOUT ROWID;
CREATE INDEX conversation_members_by_user ON conversation_members(user_id);
CREATE TABLE messages(
  conversation_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  message_id TEXT NOT NULL,
  sender_id TEXT NOT NULL,
  sender_device_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  encryption TEXT NOT NULL,
  body TEXT NOT NULL,
  media_ids TEXT,
  search_tokens TEXT,
  reply_to TEXT,
  PRIMARY KEY(conversation_id, seq)) WITHOUT ROWID;
CREATE UNIQUE INDEX messages_by_id ON messages(message_id);
CREATE TABLE device_cursors(
  device_id TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  delivered_seq INTEGER NOT NULL,
  PRIMARY KEY(device_id, conversation_id)) WITHOUT ROWID;
CREATE TABLE send_dedup(
  device_id TEXT NOT NULL,
  client_msg_id TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY(device_id, client_msg_id)) WITHOUT ROWID;
CREATE TABLE receipt_log(
  conversation_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  kind INTEGER NOT NULL,
  up_to_seq INTEGER NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY(conversation_id, user_id, kind, up_to_seq)) WITHOUT ROWID;
CREATE TABLE to_device(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  to_device_id TEXT NOT NULL,
  to_user_id TEXT NOT NULL,
  sender_id TEXT NOT NULL,
  sender_device_id TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL);
CREATE INDEX to_device_by_device ON to_device(to_device_id, id);
CREATE TABLE message_media(
  media_id TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY(media_id, conversation_id, seq)) WITHOUT ROWID;
)sql",
};

}  // namespace

Status Migrate(SqliteConn& conn, std::string_view module,
               std::span<const char* const> migrations) {
  PARLEY_TRY(conn.Exec(
      "CREATE TABLE IF NOT EXISTS schema_versions(module TEXT PRIMARY KEY, version INTEGER NOT NULL)"));
  int64_t version = 0;
  {
    Stmt s = conn.Prepare("SELECT version FROM schema_versions WHERE module = ?");
    s.Bind(1, module);
    auto row = s.Step();
    if (!row.ok()) return row.error();
    if (*row) version = s.Int(0);
  }
  for (size_t i = static_cast<size_t>(version); i < migrations.size(); ++i) {
    PARLEY_TRY(conn.Exec("BEGIN IMMEDIATE"));
    Status st = conn.Exec(migrations[i]);
    if (st.ok()) {
      Stmt s = conn.Prepare(
          "INSERT INTO schema_versions(module, version) VALUES (?, ?) "
          "ON CONFLICT(module) DO UPDATE SET version = excluded.version");
      auto r = s.Bind(1, module).Bind(2, static_cast<int64_t>(i + 1)).Run();
      if (!r.ok()) st = r.error();
    }
    if (!st.ok()) {
      (void)conn.Exec("ROLLBACK");
      return st;
    }
    PARLEY_TRY(conn.Exec("COMMIT"));
  }
  return OkStatus();
}

Status Migrate(SqliteConn& conn) { return Migrate(conn, "core", kMigrations); }

}  // namespace parley::storage::sqlite
