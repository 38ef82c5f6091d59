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

constexpr std::array<const char*, 4> kMessageMigrations = {
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
    // 2: an append in one round trip (pg_messages.cc; same steps, same order, as the statements
    // it replaces). It raises nothing of its own: a refusal is an outcome, decided before any
    // write, so the writer runs it without a savepoint. Outcomes: 0 appended (o_seq, o_members:
    // a JSON array of the active members' ids), 1 duplicate (o_conversation_id and o_seq of the
    // first send of (device, client_msg_id)), 2 not a member, 3 no such conversation.
    R"sql(
CREATE FUNCTION parley_append(
    p_conv TEXT, p_pair_a TEXT, p_pair_b TEXT, p_sender TEXT, p_device TEXT,
    p_client_msg_id TEXT, p_message_id TEXT, p_now BIGINT, p_content_type TEXT,
    p_encryption TEXT, p_body TEXT, p_media_ids TEXT, p_search_tokens TEXT, p_reply_to TEXT,
    p_media TEXT[])
RETURNS TABLE(o_outcome INT, o_conversation_id TEXT, o_seq BIGINT, o_members TEXT)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_last BIGINT;
  v_seq BIGINT;
BEGIN
  -- A repeat already committed (or appended earlier in this batch).
  SELECT d.conversation_id, d.seq INTO o_conversation_id, o_seq FROM send_dedup d
    WHERE d.device_id = p_device AND d.client_msg_id = p_client_msg_id;
  IF FOUND THEN
    o_outcome := 1;
    RETURN NEXT;
    RETURN;
  END IF;
  -- A direct conversation and its two members, unless they exist (a racing node waits on the
  -- key, then finds them).
  IF p_pair_a IS NOT NULL THEN
    INSERT INTO conversations(conversation_id, type, created_at) VALUES (p_conv, 'direct', p_now)
      ON CONFLICT (conversation_id) DO NOTHING;
    IF FOUND THEN
      INSERT INTO conversation_members(conversation_id, user_id, joined_seq)
        VALUES (p_conv, p_pair_a, 0), (p_conv, p_pair_b, 0) ON CONFLICT DO NOTHING;
    END IF;
  END IF;
  -- The lock every conversation write takes first; membership read after it, so a removal
  -- committed meanwhile on another node is seen.
  SELECT c.last_seq INTO v_last FROM conversations c WHERE c.conversation_id = p_conv FOR UPDATE;
  IF NOT FOUND THEN
    o_outcome := 3;
    RETURN NEXT;
    RETURN;
  END IF;
  PERFORM 1 FROM conversation_members m
    WHERE m.conversation_id = p_conv AND m.user_id = p_sender AND m.left_seq IS NULL;
  IF NOT FOUND THEN
    o_outcome := 2;
    RETURN NEXT;
    RETURN;
  END IF;
  v_seq := v_last + 1;
  -- The claim: a node sending the same (device, client_msg_id) right now waits on this key until
  -- we commit, then finds our row; if it got there first, we find theirs.
  INSERT INTO send_dedup(device_id, client_msg_id, conversation_id, seq)
    VALUES (p_device, p_client_msg_id, p_conv, v_seq) ON CONFLICT (device_id, client_msg_id) DO NOTHING;
  IF NOT FOUND THEN
    SELECT d.conversation_id, d.seq INTO o_conversation_id, o_seq FROM send_dedup d
      WHERE d.device_id = p_device AND d.client_msg_id = p_client_msg_id;
    o_outcome := 1;
    RETURN NEXT;
    RETURN;
  END IF;
  UPDATE conversations SET last_seq = v_seq, last_message_at = GREATEST(last_message_at, p_now)
    WHERE conversation_id = p_conv;
  INSERT INTO messages(conversation_id, seq, message_id, sender_id, sender_device_id, created_at,
                       content_type, encryption, body, media_ids, search_tokens, reply_to)
    VALUES (p_conv, v_seq, p_message_id, p_sender, p_device, p_now, p_content_type, p_encryption,
            p_body, p_media_ids, p_search_tokens, p_reply_to);
  IF p_media IS NOT NULL THEN
    INSERT INTO message_media(media_id, conversation_id, seq)
      SELECT DISTINCT u, p_conv, v_seq FROM unnest(p_media) AS u ON CONFLICT DO NOTHING;
  END IF;
  -- The sending device and user are caught up with their own message if they were with
  -- everything before it ("caught up" as Pending reads the cursor: no row yet, joined_seq).
  INSERT INTO device_cursors(device_id, conversation_id, delivered_seq)
    SELECT p_device, p_conv, v_seq FROM conversation_members m
      LEFT JOIN device_cursors d ON d.device_id = p_device AND d.conversation_id = p_conv
      WHERE m.conversation_id = p_conv AND m.user_id = p_sender
        AND GREATEST(COALESCE(d.delivered_seq, 0), m.joined_seq) = v_seq - 1
    ON CONFLICT (device_id, conversation_id) DO UPDATE SET delivered_seq = excluded.delivered_seq;
  UPDATE conversation_members SET read_seq = v_seq, delivered_seq = GREATEST(delivered_seq, v_seq)
    WHERE conversation_id = p_conv AND user_id = p_sender AND read_seq = v_seq - 1;
  SELECT COALESCE(json_agg(m.user_id ORDER BY m.user_id), '[]')::text INTO o_members
    FROM conversation_members m WHERE m.conversation_id = p_conv AND m.left_seq IS NULL;
  o_outcome := 0;
  o_conversation_id := p_conv;
  o_seq := v_seq;
  RETURN NEXT;
END
$fn$;
)sql",
    // 3: a delivered/read mark in one round trip (pg_sync.cc; the same steps as the statements it
    // replaces). Like parley_append it refuses before writing and raises nothing of its own.
    // Outcomes: 0 done (the marks before and after; o_senders: a JSON array of the senders the
    // change newly covers, as ReceiptChange::CoveredRange in storage/message_store.h bounds
    // them with p_window), 2 not a member, 3 no such conversation.
    R"sql(
CREATE FUNCTION parley_mark_receipt(
    p_conv TEXT, p_user TEXT, p_device TEXT, p_up_to BIGINT, p_read BOOLEAN, p_now BIGINT,
    p_window BIGINT)
RETURNS TABLE(o_outcome INT, o_delivered_before BIGINT, o_read_before BIGINT,
              o_delivered BIGINT, o_read BIGINT, o_senders TEXT)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_last BIGINT;
  v_joined BIGINT;
  v_left BIGINT;
  v_target BIGINT;
  v_lo BIGINT;
  v_hi BIGINT;
BEGIN
  -- The conversation's row stays locked until commit (as appends and group changes lock it): a
  -- concurrent mark on another node waits, then reads the marks this one wrote.
  SELECT c.last_seq INTO v_last FROM conversations c WHERE c.conversation_id = p_conv FOR UPDATE;
  IF NOT FOUND THEN
    o_outcome := 3;
    RETURN NEXT;
    RETURN;
  END IF;
  SELECT m.joined_seq, m.left_seq, m.delivered_seq, m.read_seq
    INTO v_joined, v_left, o_delivered_before, o_read_before
    FROM conversation_members m WHERE m.conversation_id = p_conv AND m.user_id = p_user;
  IF NOT FOUND THEN
    o_outcome := 2;
    RETURN NEXT;
    RETURN;
  END IF;
  v_target := GREATEST(0, LEAST(p_up_to, LEAST(COALESCE(v_left, v_last), v_last)));
  INSERT INTO device_cursors(device_id, conversation_id, delivered_seq)
    VALUES (p_device, p_conv, v_target) ON CONFLICT (device_id, conversation_id) DO UPDATE SET
    delivered_seq = GREATEST(device_cursors.delivered_seq, excluded.delivered_seq);
  o_read := CASE WHEN p_read THEN GREATEST(o_read_before, v_target) ELSE o_read_before END;
  o_delivered := GREATEST(o_delivered_before, v_target, o_read);
  IF v_target <= v_joined THEN
    o_delivered := o_delivered_before;
    o_read := o_read_before;
  END IF;
  o_outcome := 0;
  o_senders := '[]';
  IF o_delivered = o_delivered_before AND o_read = o_read_before THEN
    RETURN NEXT;
    RETURN;
  END IF;
  UPDATE conversation_members SET delivered_seq = o_delivered, read_seq = o_read
    WHERE conversation_id = p_conv AND user_id = p_user;
  IF o_delivered > o_delivered_before THEN
    INSERT INTO receipt_log(conversation_id, user_id, kind, up_to_seq, at)
      VALUES (p_conv, p_user, 0, o_delivered, p_now) ON CONFLICT DO NOTHING;
  END IF;
  IF o_read > o_read_before THEN
    INSERT INTO receipt_log(conversation_id, user_id, kind, up_to_seq, at)
      VALUES (p_conv, p_user, 1, o_read, p_now) ON CONFLICT DO NOTHING;
  END IF;
  v_hi := GREATEST(o_delivered, o_read);
  v_lo := v_hi;
  IF o_delivered > o_delivered_before THEN v_lo := LEAST(v_lo, o_delivered_before); END IF;
  IF o_read > o_read_before THEN v_lo := LEAST(v_lo, o_read_before); END IF;
  v_lo := GREATEST(v_lo, v_hi - p_window);
  SELECT COALESCE(json_agg(DISTINCT s.sender_id), '[]')::text INTO o_senders FROM messages s
    WHERE s.conversation_id = p_conv AND s.seq > v_lo AND s.seq <= v_hi AND s.sender_id <> p_user;
  RETURN NEXT;
END
$fn$;
)sql",
    // 4: the transactional outbox (pg_outbox.cc, storage/message_outbox.h). parley_append_outbox
    // is parley_append plus the message's outbox entry in the same statement; nodes without an
    // outbox (and older versions, during a rolling upgrade) keep calling parley_append.
    R"sql(
CREATE TABLE message_outbox(
  conversation_id TEXT COLLATE "C" NOT NULL,
  seq BIGINT NOT NULL,
  message_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  claimed_until BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY(conversation_id, seq));
CREATE INDEX message_outbox_by_time ON message_outbox(created_at);
CREATE FUNCTION parley_append_outbox(
    p_conv TEXT, p_pair_a TEXT, p_pair_b TEXT, p_sender TEXT, p_device TEXT,
    p_client_msg_id TEXT, p_message_id TEXT, p_now BIGINT, p_content_type TEXT,
    p_encryption TEXT, p_body TEXT, p_media_ids TEXT, p_search_tokens TEXT, p_reply_to TEXT,
    p_media TEXT[])
RETURNS TABLE(o_outcome INT, o_conversation_id TEXT, o_seq BIGINT, o_members TEXT)
LANGUAGE plpgsql AS $fn$
DECLARE
  r RECORD;
BEGIN
  SELECT * INTO r FROM parley_append(p_conv, p_pair_a, p_pair_b, p_sender, p_device,
      p_client_msg_id, p_message_id, p_now, p_content_type, p_encryption, p_body, p_media_ids,
      p_search_tokens, p_reply_to, p_media);
  IF r.o_outcome = 0 THEN
    INSERT INTO message_outbox(conversation_id, seq, message_id, created_at)
      VALUES (p_conv, r.o_seq, p_message_id, p_now);
  END IF;
  o_outcome := r.o_outcome;
  o_conversation_id := r.o_conversation_id;
  o_seq := r.o_seq;
  o_members := r.o_members;
  RETURN NEXT;
END
$fn$;
)sql",
};

}  // namespace

Status MigrateMessages(PgConn& conn) { return MigrateModule(conn, "messages", kMessageMigrations); }

}  // namespace parley::storage::postgres
