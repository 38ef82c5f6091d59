// Schema of the PostgreSQL adapter's core, audit, notify and media modules (the message and
// group modules: pg_schema_messages.cc). Table and column names follow the SQLite adapter (and
// the seed's data model); INTEGER becomes BIGINT, flags BOOLEAN, token hashes BYTEA.
// Append only: never edit a migration that has shipped; add the next one.
#include <array>

#include "storage/postgres/pg_migrate.h"
#include "storage/postgres/postgres_store.h"

namespace parley::storage::postgres {
namespace {

constexpr std::array<const char*, 1> kCoreMigrations = {
    // 1: users, devices, tokens and the key directory.
    R"sql(
CREATE TABLE users(
  user_id TEXT PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'online',
  status_text TEXT NOT NULL DEFAULT '',
  profile_pic_url TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL DEFAULT 0,
  is_admin BOOLEAN NOT NULL DEFAULT FALSE);
CREATE TABLE devices(
  device_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  device_name TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL DEFAULT 0,
  revoked_at BIGINT);
CREATE INDEX devices_by_user ON devices(user_id);
CREATE INDEX devices_revoked ON devices(device_id) WHERE revoked_at IS NOT NULL;
CREATE TABLE refresh_tokens(
  token_hash BYTEA PRIMARY KEY,
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT,
  revoked_at BIGINT);
CREATE INDEX refresh_tokens_by_device ON refresh_tokens(device_id);
CREATE TABLE denied_tokens(jti TEXT PRIMARY KEY, expires_at BIGINT NOT NULL);
CREATE INDEX denied_tokens_by_expiry ON denied_tokens(expires_at);
CREATE TABLE device_keys(
  device_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  identity_key TEXT NOT NULL,
  signing_key TEXT NOT NULL,
  spk_id BIGINT NOT NULL,
  spk_public TEXT NOT NULL,
  spk_signature TEXT NOT NULL);
CREATE INDEX device_keys_by_user ON device_keys(user_id);
CREATE TABLE one_time_prekeys(
  device_id TEXT NOT NULL,
  key_id BIGINT NOT NULL,
  public_key TEXT NOT NULL,
  PRIMARY KEY(device_id, key_id));
)sql",
};

constexpr std::array<const char*, 1> kAuditMigrations = {R"sql(
CREATE TABLE audit_log(
  id BIGSERIAL PRIMARY KEY,
  at BIGINT NOT NULL,
  actor_user_id TEXT NOT NULL,
  actor_device_id TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  address TEXT NOT NULL,
  details TEXT NOT NULL);
CREATE INDEX audit_by_action ON audit_log(action, id);
CREATE INDEX audit_by_actor ON audit_log(actor_user_id, id);
)sql"};

constexpr std::array<const char*, 1> kNotifyMigrations = {R"sql(
CREATE TABLE push_endpoints(
  device_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  endpoint TEXT NOT NULL);
CREATE TABLE notifications(
  id BIGSERIAL PRIMARY KEY,
  user_id TEXT NOT NULL,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  data TEXT NOT NULL,
  created_at BIGINT NOT NULL);
CREATE INDEX notifications_by_user ON notifications(user_id, id);
)sql"};

constexpr std::array<const char*, 1> kMediaMigrations = {
    // 1: the seed's media table (media_url holds the blob key) plus size, hash, file name and
    // the thumbnail's state (0 none, 1 pending, 2 ready, 3 failed) and blob.
    R"sql(
CREATE TABLE media(
  media_id TEXT PRIMARY KEY,
  uploader_id TEXT NOT NULL,
  media_type TEXT NOT NULL,
  media_url TEXT NOT NULL,
  message_id TEXT,
  created_at BIGINT NOT NULL,
  size BIGINT NOT NULL,
  sha256 TEXT NOT NULL,
  filename TEXT NOT NULL DEFAULT '',
  thumb_state BIGINT NOT NULL DEFAULT 0,
  thumb_key TEXT,
  thumb_type TEXT,
  thumb_size BIGINT,
  thumb_sha256 TEXT,
  thumb_width BIGINT,
  thumb_height BIGINT,
  thumb_error TEXT NOT NULL DEFAULT '');
CREATE INDEX media_by_uploader ON media(uploader_id, created_at);
CREATE INDEX media_thumb_pending ON media(created_at) WHERE thumb_state = 1;
)sql",
};

}  // namespace

Status MigrateCore(PgConn& conn) { return MigrateModule(conn, "core", kCoreMigrations); }
Status MigrateAudit(PgConn& conn) { return MigrateModule(conn, "audit", kAuditMigrations); }
Status MigrateNotify(PgConn& conn) { return MigrateModule(conn, "notify", kNotifyMigrations); }
Status MigrateMedia(PgConn& conn) { return MigrateModule(conn, "media", kMediaMigrations); }

Status MigrateAll(PgConn& conn) {
  PARLEY_TRY(MigrateCore(conn));
  PARLEY_TRY(MigrateMessages(conn));
  PARLEY_TRY(MigrateGroups(conn));
  PARLEY_TRY(MigrateAudit(conn));
  PARLEY_TRY(MigrateNotify(conn));
  PARLEY_TRY(MigrateMedia(conn));
  return OkStatus();
}

}  // namespace parley::storage::postgres
