// PostgresStore: GroupStore methods and the "groups" module's migrations. Contracts in
// storage/group_store.h; behaviour follows storage/sqlite/sqlite_groups.cc.
//
// Across nodes: an edit locks the group's row (FOR UPDATE) before loading its members and
// running the planner, so rule checks and writes see the latest state; it then locks the
// conversation row before reading last_seq, so joined_seq/left_seq and the system messages'
// seqs cannot interleave with appends on other nodes (which take the same row lock).
#include <array>

#include "common/time.h"
#include "common/ids.h"
#include "storage/postgres/pg_migrate.h"
#include "storage/postgres/pg_msg_rows.h"
#include "storage/postgres/postgres_store.h"

namespace parley::storage::postgres {
namespace {

// Append only. Column names follow the seed's groups and group_members tables; `seniority`
// stands in for SQLite's rowid: it orders members who joined in the same millisecond by the
// order they were inserted (a re-join inserts anew, so it comes last).
constexpr std::array<const char*, 1> kGroupMigrations = {
    R"sql(
CREATE TABLE groups(
  group_id TEXT PRIMARY KEY,
  group_name TEXT NOT NULL,
  creator_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  conversation_id TEXT COLLATE "C" NOT NULL UNIQUE);
CREATE TABLE group_members(
  group_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  joined_at BIGINT NOT NULL,
  role TEXT NOT NULL,
  seniority BIGINT GENERATED ALWAYS AS IDENTITY,
  PRIMARY KEY(group_id, user_id));
CREATE INDEX group_members_by_user ON group_members(user_id);
)sql",
};

// The group and its members. `lock`: hold the group row until the transaction ends.
Result<Group> LoadGroup(PgConn& c, std::string_view group_id, bool lock) {
  Group g;
  {
    auto r = c.Exec(lock ? "SELECT group_id, conversation_id, group_name, creator_id, created_at, "
                           "updated_at FROM groups WHERE group_id = $1 FOR UPDATE"
                         : "SELECT group_id, conversation_id, group_name, creator_id, created_at, "
                           "updated_at FROM groups WHERE group_id = $1",
                    {P(group_id)});
    if (!r.ok()) return r.error();
    if (r->rows() == 0) return MakeError(ErrorCode::kNotFound, "no such group");
    g = {r->str(0, 0), r->str(0, 1), r->str(0, 2), r->str(0, 3), r->i64(0, 4), r->i64(0, 5), {}};
  }
  auto r = c.Exec(
      "SELECT user_id, role, joined_at FROM group_members WHERE group_id = $1 "
      "ORDER BY joined_at, seniority",
      {P(group_id)});
  if (!r.ok()) return r.error();
  g.members.reserve(r->rows());
  for (int i = 0; i < r->rows(); ++i) g.members.push_back({r->str(i, 0), r->str(i, 1), r->i64(i, 2)});
  return g;
}

Status CheckUsersExist(PgConn& c, const std::vector<GroupMember>& members) {
  if (members.empty()) return OkStatus();
  std::vector<std::string> ids;
  ids.reserve(members.size());
  for (const auto& m : members) ids.push_back(m.user_id);
  auto r = c.Exec(
      "SELECT u FROM unnest($1::text[]) WITH ORDINALITY AS t(u, n) "
      "WHERE NOT EXISTS (SELECT 1 FROM users WHERE user_id = t.u) ORDER BY n LIMIT 1",
      {TextArray(ids)});
  if (!r.ok()) return r.error();
  if (r->rows() > 0) return MakeError(ErrorCode::kNotFound, "no such user: " + r->str(0, 0));
  return OkStatus();
}

// The conversation's last_seq, its row locked until the transaction ends.
Result<int64_t> LockLastSeq(PgConn& c, std::string_view conversation_id) {
  auto r = msg::LockConversation(c, conversation_id);
  if (!r.ok() && r.error().code == ErrorCode::kNotFound)
    return MakeError(ErrorCode::kInternal, "group without its conversation");
  return r;
}

// Inserts the member and (re)opens their conversation membership at `joined_seq`, with the
// delivery cursor of each of their devices starting there.
Status Join(PgConn& c, const Group& g, const GroupMember& m, int64_t joined_seq, int64_t now) {
  if (!IsGroupRole(m.role)) return MakeError(ErrorCode::kInvalidArgument, "not a group role");
  {
    auto r = c.Exec(
        "INSERT INTO group_members(group_id, user_id, joined_at, role) "
        "VALUES ($1, $2, $3::bigint, $4)",
        {P(g.group_id), P(m.user_id), P(now), P(m.role)});
    if (!r.ok()) return r.error();
  }
  {
    auto r = c.Exec(
        "INSERT INTO conversation_members(conversation_id, user_id, joined_seq, delivered_seq, "
        "read_seq) VALUES ($1, $2, $3::bigint, $3::bigint, $3::bigint) "
        "ON CONFLICT (conversation_id, user_id) DO UPDATE SET joined_seq = $3::bigint, "
        "left_seq = NULL, "
        "delivered_seq = GREATEST(conversation_members.delivered_seq, $3::bigint), "
        "read_seq = GREATEST(conversation_members.read_seq, $3::bigint)",
        {P(g.conversation_id), P(m.user_id), P(joined_seq)});
    if (!r.ok()) return r.error();
  }
  auto r = c.Exec(
      "INSERT INTO device_cursors(device_id, conversation_id, delivered_seq) "
      "SELECT device_id, $2::text, $3::bigint FROM devices "
      "WHERE user_id = $1 AND revoked_at IS NULL "
      "ON CONFLICT (device_id, conversation_id) DO UPDATE SET "
      "delivered_seq = excluded.delivered_seq",
      {P(m.user_id), P(g.conversation_id), P(joined_seq)});
  if (!r.ok()) return r.error();
  return OkStatus();
}

// Appends the change's system messages with the next seqs (the conversation row is locked),
// with their outbox entries if `outbox` (PostgresOptions::outbox, pg_outbox.cc).
Status AppendSystemMessages(PgConn& c, const Group& g, const std::string& actor_id,
                            const std::vector<std::string>& bodies, int64_t now, bool outbox,
                            GroupChange* out) {
  for (const auto& body : bodies) {
    auto seq = msg::NextSeq(c, g.conversation_id, now);
    if (!seq.ok()) return seq.error();
    Message m;
    m.message_id = NewUuidV7();
    m.conversation_id = g.conversation_id;
    m.seq = *seq;
    m.sender_id = actor_id;
    m.created_at = now;
    m.content_type = "system";
    m.encryption = "none";
    m.body = body;
    PARLEY_TRY(msg::InsertMessage(c, m));
    if (outbox) {
      auto r = c.Exec(
          "INSERT INTO message_outbox(conversation_id, seq, message_id, created_at) "
          "VALUES ($1, $2::bigint, $3, $4::bigint)",
          {P(m.conversation_id), P(m.seq), P(m.message_id), P(now)});
      if (!r.ok()) return r.error();
    }
    out->system_messages.push_back(std::move(m));
  }
  return OkStatus();
}

// Reloads the group after a change and names who must hear about it.
Status Finish(PgConn& c, const std::string& group_id, GroupChange* out) {
  auto g = LoadGroup(c, group_id, false);
  if (!g.ok()) return g.error();
  out->group = std::move(*g);
  out->changed = true;
  for (const auto& m : out->group.members) out->audience.push_back(m.user_id);
  for (const auto& u : out->left) out->audience.push_back(u);
  return OkStatus();
}

Result<GroupChange> CreateTx(PgConn& c, const NewGroup& ng, bool outbox) {
  PARLEY_TRY(CheckUsersExist(c, ng.members));
  int64_t now = NowMs();
  {
    // A taken conversation_id or group_id is a unique violation: kConflict.
    auto r = c.Exec(
        "INSERT INTO conversations(conversation_id, type, group_id, title, created_at) "
        "VALUES ($1, 'group', $2, $3, $4::bigint)",
        {P(ng.conversation_id), P(ng.group_id), P(ng.name), P(now)});
    if (!r.ok()) return r.error();
  }
  {
    auto r = c.Exec(
        "INSERT INTO groups(group_id, group_name, creator_id, created_at, updated_at, "
        "conversation_id) VALUES ($1, $2, $3, $4::bigint, $4::bigint, $5)",
        {P(ng.group_id), P(ng.name), P(ng.creator_id), P(now), P(ng.conversation_id)});
    if (!r.ok()) return r.error();
  }
  Group g{ng.group_id, ng.conversation_id, ng.name, ng.creator_id, now, now, {}};
  GroupChange out;
  out.actor_id = ng.creator_id;
  for (const auto& m : ng.members) {
    PARLEY_TRY(Join(c, g, m, 0, now));
    out.joined.push_back(m.user_id);
  }
  PARLEY_TRY(AppendSystemMessages(c, g, ng.creator_id, {ng.system_body}, now, outbox, &out));
  PARLEY_TRY(Finish(c, ng.group_id, &out));
  return out;
}

Result<GroupChange> EditTx(PgConn& c, const std::string& group_id, const GroupPlanner& plan,
                           bool outbox) {
  auto g = LoadGroup(c, group_id, true);
  if (!g.ok()) return g.error();
  auto e = plan(*g);
  if (!e.ok()) return e.error();
  GroupChange out;
  out.actor_id = e->actor_id;
  if (e->empty()) {
    out.group = std::move(*g);
    return out;
  }
  PARLEY_TRY(CheckGroupEdit(*g, *e));
  PARLEY_TRY(CheckUsersExist(c, e->add));
  int64_t now = NowMs();
  const std::string& conv = g->conversation_id;
  auto joined_seq = LockLastSeq(c, conv);
  if (!joined_seq.ok()) return joined_seq.error();
  if (e->name) {
    auto r = c.Exec("UPDATE groups SET group_name = $1 WHERE group_id = $2",
                    {P(*e->name), P(group_id)});
    if (!r.ok()) return r.error();
    auto rt = c.Exec("UPDATE conversations SET title = $1 WHERE conversation_id = $2",
                     {P(*e->name), P(conv)});
    if (!rt.ok()) return rt.error();
  }
  for (const auto& m : e->add) {
    PARLEY_TRY(Join(c, *g, m, *joined_seq, now));
    out.joined.push_back(m.user_id);
  }
  for (const auto& [user, role] : e->roles) {
    auto r = c.Exec("UPDATE group_members SET role = $1 WHERE group_id = $2 AND user_id = $3",
                    {P(role), P(group_id), P(user)});
    if (!r.ok()) return r.error();
  }
  for (const auto& user : e->remove) {
    auto r = c.Exec("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2",
                    {P(group_id), P(user)});
    if (!r.ok()) return r.error();
    out.left.push_back(user);
  }
  PARLEY_TRY(AppendSystemMessages(c, *g, e->actor_id, e->system_bodies, now, outbox, &out));
  int64_t left_seq = out.system_messages.empty() ? *joined_seq : out.system_messages.back().seq;
  for (const auto& user : e->remove) {
    auto r = c.Exec(
        "UPDATE conversation_members SET left_seq = $1::bigint WHERE conversation_id = $2 "
        "AND user_id = $3 AND left_seq IS NULL",
        {P(left_seq), P(conv), P(user)});
    if (!r.ok()) return r.error();
  }
  {
    auto r = c.Exec("UPDATE groups SET updated_at = $1::bigint WHERE group_id = $2",
                    {P(now), P(group_id)});
    if (!r.ok()) return r.error();
  }
  PARLEY_TRY(Finish(c, group_id, &out));
  return out;
}

}  // namespace

Status MigrateGroups(PgConn& conn) { return MigrateModule(conn, "groups", kGroupMigrations); }

void PostgresStore::CreateGroup(NewGroup group, Done<GroupChange> done) {
  JobOptions options;
  options.lock_keys = {group.conversation_id};
  writer().Submit<GroupChange>(
      [group = std::move(group), outbox = options_.outbox](PgConn& c) {
        return CreateTx(c, group, outbox);
      },
      std::move(done), std::move(options));
}

void PostgresStore::EditGroup(std::string group_id, GroupPlanner plan, Done<GroupChange> done) {
  // No lock key: the group's conversation is known only inside the job, which locks that
  // conversation's row before any other of its rows, as every conversation write does; a batch
  // holding the conversation's key then only makes the edit wait, never a cycle (pg_writer.h).
  writer().Submit<GroupChange>(
      [group_id = std::move(group_id), plan = std::move(plan), outbox = options_.outbox](PgConn& c) {
        return EditTx(c, group_id, plan, outbox);
      },
      std::move(done));
}

Result<Group> PostgresStore::GetGroup(std::string_view group_id) {
  auto c = Reader();
  if (!c.ok()) return c.error();
  return LoadGroup(**c, group_id, false);
}

}  // namespace parley::storage::postgres
