// SqliteStore: GroupStore methods, and the groups module's migrations.
#include <array>

#include "common/ids.h"
#include "common/time.h"
#include "storage/sqlite/sqlite_store.h"

namespace parley::storage::sqlite {
namespace {

// Append only, like schema.cc. Column names follow the seed's groups and group_members tables.
constexpr std::array<const char*, 1> kGroupMigrations = {
    R"sql(
CREATE TABLE groups(
  group_id TEXT PRIMARY KEY,
  group_name TEXT NOT NULL,
  creator_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  conversation_id TEXT NOT NULL UNIQUE);
CREATE TABLE group_members(
  group_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  joined_at INTEGER NOT NULL,
  role TEXT NOT NULL,
  PRIMARY KEY(group_id, user_id));
CREATE INDEX group_members_by_user ON group_members(user_id);
)sql",
};

Result<Group> LoadGroup(SqliteConn& c, std::string_view group_id) {
  Group g;
  {
    Stmt s = c.Prepare(
        "SELECT group_id, conversation_id, group_name, creator_id, created_at, updated_at "
        "FROM groups WHERE group_id = ?");
    s.Bind(1, group_id);
    auto row = s.Step();
    if (!row.ok()) return row.error();
    if (!*row) return MakeError(ErrorCode::kNotFound, "no such group");
    g = {s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4), s.Int(5), {}};
  }
  // rowid breaks joined_at ties in the order members were inserted (a re-join inserts anew).
  Stmt s = c.Prepare(
      "SELECT user_id, role, joined_at FROM group_members WHERE group_id = ? "
      "ORDER BY joined_at, rowid");
  s.Bind(1, group_id);
  while (true) {
    auto row = s.Step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    g.members.push_back({s.Text(0), s.Text(1), s.Int(2)});
  }
  return g;
}

Status CheckUsersExist(SqliteConn& c, const std::vector<GroupMember>& members) {
  for (const auto& m : members) {
    Stmt s = c.Prepare("SELECT 1 FROM users WHERE user_id = ?");
    s.Bind(1, m.user_id);
    auto row = s.Step();
    if (!row.ok()) return row.error();
    if (!*row) return MakeError(ErrorCode::kNotFound, "no such user: " + m.user_id);
  }
  return OkStatus();
}

Result<int64_t> LastSeq(SqliteConn& c, std::string_view conversation_id) {
  Stmt s = c.Prepare("SELECT last_seq FROM conversations WHERE conversation_id = ?");
  s.Bind(1, conversation_id);
  auto row = s.Step();
  if (!row.ok()) return row.error();
  if (!*row) return MakeError(ErrorCode::kInternal, "group without its conversation");
  return s.Int(0);
}

// Inserts the member and (re)opens their conversation membership at `joined_seq`, with the
// delivery cursor of each of their devices starting there.
Status Join(SqliteConn& c, const Group& g, const GroupMember& m, int64_t joined_seq, int64_t now) {
  if (!IsGroupRole(m.role)) return MakeError(ErrorCode::kInvalidArgument, "not a group role");
  {
    Stmt s = c.Prepare(
        "INSERT INTO group_members(group_id, user_id, joined_at, role) VALUES (?,?,?,?)");
    auto r = s.Bind(1, g.group_id).Bind(2, m.user_id).Bind(3, now).Bind(4, m.role).Run();
    if (!r.ok()) return r.error();
  }
  {
    Stmt s = c.Prepare(
        "INSERT INTO conversation_members(conversation_id, user_id, joined_seq, delivered_seq, "
        "read_seq) VALUES (?1, ?2, ?3, ?3, ?3) ON CONFLICT(conversation_id, user_id) DO UPDATE "
        "SET joined_seq = ?3, left_seq = NULL, delivered_seq = MAX(delivered_seq, ?3), "
        "read_seq = MAX(read_seq, ?3)");
    auto r = s.Bind(1, g.conversation_id).Bind(2, m.user_id).Bind(3, joined_seq).Run();
    if (!r.ok()) return r.error();
  }
  Stmt s = c.Prepare(
      "INSERT INTO device_cursors(device_id, conversation_id, delivered_seq) "
      "SELECT device_id, ?2, ?3 FROM devices WHERE user_id = ?1 AND revoked_at IS NULL "
      "ON CONFLICT(device_id, conversation_id) DO UPDATE SET delivered_seq = excluded.delivered_seq");
  auto r = s.Bind(1, m.user_id).Bind(2, g.conversation_id).Bind(3, joined_seq).Run();
  if (!r.ok()) return r.error();
  return OkStatus();
}

Result<Message> AppendSystem(SqliteConn& c, const std::string& conversation_id,
                             const std::string& actor_id, const std::string& body, int64_t now) {
  auto last = LastSeq(c, conversation_id);
  if (!last.ok()) return last.error();
  Message m;
  m.message_id = NewUuidV7();
  m.conversation_id = conversation_id;
  m.seq = *last + 1;
  m.sender_id = actor_id;
  m.created_at = now;
  m.content_type = "system";
  m.encryption = "none";
  m.body = body;
  {
    Stmt s = c.Prepare(
        "UPDATE conversations SET last_seq = ?, last_message_at = ? WHERE conversation_id = ?");
    auto r = s.Bind(1, m.seq).Bind(2, now).Bind(3, conversation_id).Run();
    if (!r.ok()) return r.error();
  }
  Stmt s = c.Prepare(
      "INSERT INTO messages(conversation_id, seq, message_id, sender_id, sender_device_id, "
      "created_at, content_type, encryption, body) VALUES (?,?,?,?,'',?,'system','none',?)");
  auto r = s.Bind(1, conversation_id).Bind(2, m.seq).Bind(3, m.message_id).Bind(4, actor_id)
               .Bind(5, now).Bind(6, body).Run();
  if (!r.ok()) return r.error();
  return m;
}

Status AppendSystemMessages(SqliteConn& c, const Group& g, const std::string& actor_id,
                            const std::vector<std::string>& bodies, int64_t now,
                            GroupChange* out) {
  for (const auto& body : bodies) {
    auto m = AppendSystem(c, g.conversation_id, actor_id, body, now);
    if (!m.ok()) return m.error();
    out->system_messages.push_back(std::move(*m));
  }
  return OkStatus();
}

// Reloads the group after a change and names who must hear about it.
Status Finish(SqliteConn& c, const std::string& group_id, GroupChange* out) {
  auto g = LoadGroup(c, group_id);
  if (!g.ok()) return g.error();
  out->group = std::move(*g);
  out->changed = true;
  for (const auto& m : out->group.members) out->audience.push_back(m.user_id);
  for (const auto& u : out->left) out->audience.push_back(u);
  return OkStatus();
}

Result<GroupChange> CreateTx(SqliteConn& c, const NewGroup& ng) {
  PARLEY_TRY(CheckUsersExist(c, ng.members));
  int64_t now = NowMs();
  {
    Stmt s = c.Prepare(
        "INSERT INTO conversations(conversation_id, type, group_id, title, created_at) "
        "VALUES (?, 'group', ?, ?, ?)");
    auto r = s.Bind(1, ng.conversation_id).Bind(2, ng.group_id).Bind(3, ng.name).Bind(4, now).Run();
    if (!r.ok()) return r.error();
  }
  {
    Stmt s = c.Prepare(
        "INSERT INTO groups(group_id, group_name, creator_id, created_at, updated_at, "
        "conversation_id) VALUES (?,?,?,?,?,?)");
    auto r = s.Bind(1, ng.group_id).Bind(2, ng.name).Bind(3, ng.creator_id).Bind(4, now)
                 .Bind(5, now).Bind(6, ng.conversation_id).Run();
    if (!r.ok()) return r.error();
  }
  Group g{ng.group_id, ng.conversation_id, ng.name, ng.creator_id, now, now, {}};
  GroupChange out;
  out.actor_id = ng.creator_id;
  for (const auto& m : ng.members) {
    PARLEY_TRY(Join(c, g, m, 0, now));
    out.joined.push_back(m.user_id);
  }
  PARLEY_TRY(AppendSystemMessages(c, g, ng.creator_id, {ng.system_body}, now, &out));
  PARLEY_TRY(Finish(c, ng.group_id, &out));
  return out;
}

Result<GroupChange> EditTx(SqliteConn& c, const std::string& group_id, const GroupPlanner& plan) {
  auto g = LoadGroup(c, group_id);
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
  if (e->name) {
    Stmt s = c.Prepare("UPDATE groups SET group_name = ? WHERE group_id = ?");
    auto r = s.Bind(1, *e->name).Bind(2, group_id).Run();
    if (!r.ok()) return r.error();
    Stmt t = c.Prepare("UPDATE conversations SET title = ? WHERE conversation_id = ?");
    auto rt = t.Bind(1, *e->name).Bind(2, conv).Run();
    if (!rt.ok()) return rt.error();
  }
  auto joined_seq = LastSeq(c, conv);
  if (!joined_seq.ok()) return joined_seq.error();
  for (const auto& m : e->add) {
    PARLEY_TRY(Join(c, *g, m, *joined_seq, now));
    out.joined.push_back(m.user_id);
  }
  for (const auto& [user, role] : e->roles) {
    Stmt s = c.Prepare("UPDATE group_members SET role = ? WHERE group_id = ? AND user_id = ?");
    auto r = s.Bind(1, role).Bind(2, group_id).Bind(3, user).Run();
    if (!r.ok()) return r.error();
  }
  for (const auto& user : e->remove) {
    Stmt s = c.Prepare("DELETE FROM group_members WHERE group_id = ? AND user_id = ?");
    auto r = s.Bind(1, group_id).Bind(2, user).Run();
    if (!r.ok()) return r.error();
    out.left.push_back(user);
  }
  PARLEY_TRY(AppendSystemMessages(c, *g, e->actor_id, e->system_bodies, now, &out));
  auto left_seq = LastSeq(c, conv);
  if (!left_seq.ok()) return left_seq.error();
  for (const auto& user : e->remove) {
    Stmt s = c.Prepare(
        "UPDATE conversation_members SET left_seq = ? WHERE conversation_id = ? AND user_id = ? "
        "AND left_seq IS NULL");
    auto r = s.Bind(1, *left_seq).Bind(2, conv).Bind(3, user).Run();
    if (!r.ok()) return r.error();
  }
  {
    Stmt s = c.Prepare("UPDATE groups SET updated_at = ? WHERE group_id = ?");
    auto r = s.Bind(1, now).Bind(2, group_id).Run();
    if (!r.ok()) return r.error();
  }
  PARLEY_TRY(Finish(c, group_id, &out));
  return out;
}

}  // namespace

Status MigrateGroups(SqliteConn& conn) { return Migrate(conn, "groups", kGroupMigrations); }

void SqliteStore::CreateGroup(NewGroup group, Done<GroupChange> done) {
  writer_->Submit<GroupChange>(
      [group = std::move(group)](SqliteConn& c) { return CreateTx(c, group); }, std::move(done));
}

void SqliteStore::EditGroup(std::string group_id, GroupPlanner plan, Done<GroupChange> done) {
  writer_->Submit<GroupChange>(
      [group_id = std::move(group_id), plan = std::move(plan)](SqliteConn& c) {
        return EditTx(c, group_id, plan);
      },
      std::move(done));
}

Result<Group> SqliteStore::GetGroup(std::string_view group_id) {
  auto c = FreshReader();
  if (!c.ok()) return c.error();
  return LoadGroup(**c, group_id);
}

}  // namespace parley::storage::sqlite
