// Migrations of the PostgreSQL adapter's "messages" module: conversations, their members,
// messages, per-device delivery cursors, send de-duplication, receipts, to-device queues and the
// media a message names. Same tables and columns as the SQLite core schema (storage/sqlite/
// schema.cc), with PostgreSQL types. Append only: never edit a migration that has shipped.
//
// Indexes that keep the hot reads index scans:
// - History and Pending read messages by the primary key (conversation_id, seq), both ways;
// - ListConversations, Pending and Memberships start from conversation_members_by_user and join
//   conversations by its primary key; a device's cursor is found by (device_id, conversation_id);
// - send_dedup's primary key is the cross-node idempotency of (device, client_msg_id);
// - the to-device queue is read and acknowledged by (to_device_id, id).
// Every conversation_id column is COLLATE "C": ids order bytewise (ScanConversations' "id order"
// is the one the SQLite adapter and std::string use, whatever the database's default collation),
// and all of them share one collation so joins on it need no COLLATE clause.
#include <array>

#include "storage/postgres/pg_migrate.h"
#include "storage/postgres/postgres_store.h"

namespace parley::storage::postgres {
namespace {

constexpr std::array<const char*, 1> kMessageMigrations = {
    // 1: the foundation, as in the SQLite core schema.
    R"sql(
CREATE TABLE conversations(
  conversation_id TEXT COLLATE "C" PRIMARY KEY,
  type TEXT NOT NULL,
  group_id TEXT,
  title TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  last_seq BIGINT NOT NULL DEFAULT 0,
  last_message_at BIGINT NOT NULL DEFAULT 0);
CREATE TABLE conversation_members(
  conversation_id TEXT COLLATE "C" NOT NULL,
  user_id TEXT NOT NULL,
  joined_seq BIGINT NOT NULL,
  left_seq BIGINT,
  delivered_seq BIGINT NOT NULL DEFAULT 0,
  read_seq BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY(conversation_id, user_id));
CREATE INDEX conversation_members_by_user ON conversation_members(user_id);
CREATE TABLE messages(
  conversation_id TEXT COLLATE "C" NOT NULL,
  seq BIGINT NOT NULL,
  message_id TEXT NOT NULL,
  sender_id TEXT NOT NULL,
  sender_device_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  content_type TEXT NOT NULL,
  encryption TEXT NOT NULL,
  body TEXT NOT NULL,
  media_ids TEXT,
  search_tokens TEXT,
  reply_to TEXT,
  PRIMARY KEY(conversation_id, seq));
CREATE UNIQUE INDEX messages_by_id ON messages(message_id);
CREATE TABLE device_cursors(
  device_id TEXT NOT NULL,
  conversation_id TEXT COLLATE "C" NOT NULL,
  delivered_seq BIGINT NOT NULL,
  PRIMARY KEY(device_id, conversation_id));
CREATE TABLE send_dedup(
  device_id TEXT NOT NULL,
  client_msg_id TEXT NOT NULL,
  conversation_id TEXT COLLATE "C" NOT NULL,
  seq BIGINT NOT NULL,
  PRIMARY KEY(device_id, client_msg_id));
CREATE TABLE receipt_log(
  conversation_id TEXT COLLATE "C" NOT NULL,
  user_id TEXT NOT NULL,
  kind INTEGER NOT NULL,
  up_to_seq BIGINT NOT NULL,
  at BIGINT NOT NULL,
  PRIMARY KEY(conversation_id, user_id, kind, up_to_seq));
CREATE TABLE to_device(
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  to_device_id TEXT NOT NULL,
  to_user_id TEXT NOT NULL,
  sender_id TEXT NOT NULL,
  sender_device_id TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at BIGINT NOT NULL);
CREATE INDEX to_device_by_device ON to_device(to_device_id, id);
CREATE TABLE message_media(
  media_id TEXT NOT NULL,
  conversation_id TEXT COLLATE "C" NOT NULL,
  seq BIGINT NOT NULL,
  PRIMARY KEY(media_id, conversation_id, seq));
)sql",
};

}  // namespace

Status MigrateMessages(PgConn& conn) { return MigrateModule(conn, "messages", kMessageMigrations); }

}  // namespace parley::storage::postgres
