// The GroupStore conformance cases: groups, their conversation membership and system messages.
// See conformance.h for how an adapter runs them; an adapter without groups skips them.
#include <algorithm>

#include "common/ids.h"
#include "common/time.h"
#include "storage/conformance/conformance.h"

namespace parley::storage::conformance {
namespace {

class GroupFixture {
 public:
  explicit GroupFixture(Stores& s) : s_(s) {}

  User AddUser(const std::string& name) { return AddTestUser(*s_.auth, name); }
  Device AddDevice(const User& u) {
    Device d{NewUuidV4(), u.user_id, "phone", NowMs(), 0, false};
    EXPECT_TRUE(Wait<Unit>([&](auto done) { s_.auth->CreateDevice(d, done); }).ok());
    return d;
  }
  NewGroup Plan(const User& owner, const std::vector<User>& others, std::string name = "Team") {
    NewGroup g;
    g.group_id = NewUuidV4();
    g.conversation_id = NewUuidV4();
    g.name = std::move(name);
    g.creator_id = owner.user_id;
    g.members.push_back({owner.user_id, "owner", 0});
    for (const auto& u : others) g.members.push_back({u.user_id, "member", 0});
    g.system_body = R"({"event":"group_created"})";
    return g;
  }
  Result<GroupChange> Create(const NewGroup& g) {
    return Wait<GroupChange>([&](auto d) { s_.groups->CreateGroup(g, d); });
  }
  Result<GroupChange> Edit(const std::string& group_id, GroupPlanner plan) {
    return Wait<GroupChange>([&](auto d) { s_.groups->EditGroup(group_id, plan, d); });
  }
  // An edit that does exactly `e`, whatever the group's state.
  Result<GroupChange> Apply(const std::string& group_id, GroupEdit e) {
    return Edit(group_id, [e](const Group&) -> Result<GroupEdit> { return e; });
  }
  Result<AppendResult> Send(const std::string& conv, const User& u, const Device& d,
                            const std::string& body = "hi") {
    AppendRequest r;
    r.conversation_id = conv;
    r.sender_id = u.user_id;
    r.sender_device_id = d.device_id;
    r.client_msg_id = NewUuidV4();
    r.content_type = "text";
    r.encryption = "none";
    r.body = body;
    return Wait<AppendResult>([&](auto done) { s_.messages->Append(r, done); });
  }
  std::vector<int64_t> PendingSeqs(const User& u, const Device& d) {
    auto p = s_.messages->Pending(u.user_id, d.device_id, 100, {}, 0);
    EXPECT_TRUE(p.ok());
    std::vector<int64_t> out;
    if (p.ok())
      for (const auto& m : p->messages) out.push_back(m.seq);
    return out;
  }
  int64_t LastSeq(const std::string& conv) { return s_.messages->GetConversation(conv)->last_seq; }

 private:
  Stores& s_;
};

GroupEdit AddEdit(const User& actor, const User& who, const std::string& body = "added") {
  GroupEdit e;
  e.actor_id = actor.user_id;
  e.add.push_back({who.user_id, "member", 0});
  e.system_bodies.push_back(body);
  return e;
}

GroupEdit RemoveEdit(const User& actor, const User& who, const std::string& body = "removed") {
  GroupEdit e;
  e.actor_id = actor.user_id;
  e.remove.push_back(who.user_id);
  e.system_bodies.push_back(body);
  return e;
}

std::vector<std::string> MemberIds(const Group& g) {
  std::vector<std::string> out;
  for (const auto& m : g.members) out.push_back(m.user_id);
  return out;
}

#define SKIP_WITHOUT_GROUPS() \
  if (!s_.groups) GTEST_SKIP() << "this adapter keeps no groups"

TEST_P(StoreConformance, CreateGroupMakesItsConversationAndASystemMessage) {
  SKIP_WITHOUT_GROUPS();
  GroupFixture f(s_);
  User a = f.AddUser("alice"), b = f.AddUser("bob"), c = f.AddUser("carol");
  Device da = f.AddDevice(a), db = f.AddDevice(b);
  NewGroup plan = f.Plan(a, {b, c});
  auto r = f.Create(plan);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->changed);
  EXPECT_EQ(r->actor_id, a.user_id);
  const Group& g = r->group;
  EXPECT_EQ(g.group_id, plan.group_id);
  EXPECT_EQ(g.conversation_id, plan.conversation_id);
  EXPECT_EQ(g.name, "Team");
  EXPECT_EQ(g.creator_id, a.user_id);
  EXPECT_GT(g.created_at, 0);
  EXPECT_EQ(g.updated_at, g.created_at);
  EXPECT_EQ(MemberIds(g), (std::vector<std::string>{a.user_id, b.user_id, c.user_id}));
  EXPECT_EQ(g.members[0].role, "owner");
  EXPECT_EQ(g.members[1].role, "member");
  EXPECT_EQ(g.members[1].joined_at, g.created_at);
  EXPECT_EQ(r->joined, MemberIds(g));
  EXPECT_EQ(r->audience, MemberIds(g));
  ASSERT_EQ(r->system_messages.size(), 1u);
  const Message& m = r->system_messages[0];
  EXPECT_EQ(m.seq, 1);
  EXPECT_EQ(m.conversation_id, g.conversation_id);
  EXPECT_EQ(m.content_type, "system");
  EXPECT_EQ(m.encryption, "none");
  EXPECT_EQ(m.sender_id, a.user_id);
  EXPECT_EQ(m.sender_device_id, "");
  EXPECT_EQ(m.body, plan.system_body);
  EXPECT_EQ(s_.messages->GetMessage(m.message_id)->body, plan.system_body);

  auto conv = s_.messages->GetConversation(g.conversation_id);
  ASSERT_TRUE(conv.ok());
  EXPECT_EQ(conv->type, "group");
  EXPECT_EQ(conv->group_id, g.group_id);
  EXPECT_EQ(conv->title, "Team");
  EXPECT_EQ(conv->last_seq, 1);
  auto mb = s_.messages->GetMembership(g.conversation_id, b.user_id);
  ASSERT_TRUE(mb.ok());
  EXPECT_EQ(mb->joined_seq, 0);
  EXPECT_TRUE(mb->active());
  // The system message is pending for every device, the actor's included.
  EXPECT_EQ(f.PendingSeqs(b, db), (std::vector<int64_t>{1}));
  EXPECT_EQ(f.PendingSeqs(a, da), (std::vector<int64_t>{1}));

  auto got = s_.groups->GetGroup(g.group_id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(MemberIds(*got), MemberIds(g));
  EXPECT_EQ(got->name, g.name);

  auto sent = f.Send(g.conversation_id, b, db);
  ASSERT_TRUE(sent.ok()) << sent.error().message;
  EXPECT_EQ(sent->message.seq, 2);
  EXPECT_EQ(sent->member_ids.size(), 3u);
}

TEST_P(StoreConformance, CreateGroupWithAnUnknownUserWritesNothing) {
  SKIP_WITHOUT_GROUPS();
  GroupFixture f(s_);
  User a = f.AddUser("alice");
  NewGroup plan = f.Plan(a, {});
  plan.members.push_back({NewUuidV4(), "member", 0});
  auto r = f.Create(plan);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(s_.groups->GetGroup(plan.group_id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(s_.messages->GetConversation(plan.conversation_id).error().code, ErrorCode::kNotFound);

  NewGroup ok = f.Plan(a, {});
  ASSERT_TRUE(f.Create(ok).ok());
  NewGroup again = f.Plan(a, {});
  again.group_id = ok.group_id;
  auto dup = f.Create(again);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::kConflict);
  EXPECT_EQ(s_.groups->GetGroup(NewUuidV4()).error().code, ErrorCode::kNotFound);
}

TEST_P(StoreConformance, AJoinerSeesFromJoiningAndALeaverNothingNewer) {
  SKIP_WITHOUT_GROUPS();
  GroupFixture f(s_);
  User a = f.AddUser("alice"), b = f.AddUser("bob"), c = f.AddUser("carol");
  Device da = f.AddDevice(a), dc = f.AddDevice(c);
  auto g = f.Create(f.Plan(a, {b}));
  ASSERT_TRUE(g.ok());
  const std::string conv = g->group.conversation_id, gid = g->group.group_id;
  ASSERT_TRUE(f.Send(conv, a, da, "before c").ok());  // seq 2

  auto add = f.Apply(gid, AddEdit(a, c));
  ASSERT_TRUE(add.ok()) << add.error().message;
  EXPECT_TRUE(add->changed);
  EXPECT_EQ(add->joined, std::vector<std::string>{c.user_id});
  ASSERT_EQ(add->system_messages.size(), 1u);
  EXPECT_EQ(add->system_messages[0].seq, 3);
  EXPECT_EQ(add->audience, (std::vector<std::string>{a.user_id, b.user_id, c.user_id}));
  EXPECT_GE(add->group.updated_at, g->group.updated_at);
  auto mc = s_.messages->GetMembership(conv, c.user_id);
  EXPECT_EQ(mc->joined_seq, 2);  // sees its own joining (seq 3) and what follows
  EXPECT_EQ(f.PendingSeqs(c, dc), (std::vector<int64_t>{3}));

  ASSERT_TRUE(f.Send(conv, a, da, "after c").ok());  // seq 4
  // c's device sends before marking anything: what it has not had stays pending.
  ASSERT_TRUE(f.Send(conv, c, dc, "from c").ok());  // seq 5
  EXPECT_EQ(f.PendingSeqs(c, dc), (std::vector<int64_t>{3, 4}));

  auto rm = f.Apply(gid, RemoveEdit(a, c));
  ASSERT_TRUE(rm.ok()) << rm.error().message;
  EXPECT_EQ(rm->left, std::vector<std::string>{c.user_id});
  EXPECT_EQ(rm->system_messages[0].seq, 6);
  EXPECT_EQ(rm->audience, (std::vector<std::string>{a.user_id, b.user_id, c.user_id}));
  EXPECT_EQ(MemberIds(rm->group), (std::vector<std::string>{a.user_id, b.user_id}));
  mc = s_.messages->GetMembership(conv, c.user_id);
  ASSERT_TRUE(mc->left_seq.has_value());
  EXPECT_EQ(*mc->left_seq, 6);  // sees its own removal, nothing newer

  auto later = f.Send(conv, a, da, "without c");  // seq 7
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(std::count(later->member_ids.begin(), later->member_ids.end(), c.user_id), 0);
  EXPECT_EQ(f.PendingSeqs(c, dc), (std::vector<int64_t>{3, 4, 6}));
  auto denied = f.Send(conv, c, dc, "let me in");
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code, ErrorCode::kForbidden);
  auto members = s_.messages->ActiveMembers(conv);
  EXPECT_EQ(members->size(), 2u);
}

TEST_P(StoreConformance, ARejoinStartsAfreshAndOldCursorsExposeNothing) {
  SKIP_WITHOUT_GROUPS();
  GroupFixture f(s_);
  User a = f.AddUser("alice"), b = f.AddUser("bob");
  Device da = f.AddDevice(a), db = f.AddDevice(b);
  auto g = f.Create(f.Plan(a, {b}));
  ASSERT_TRUE(g.ok());
  const std::string conv = g->group.conversation_id, gid = g->group.group_id;
  ASSERT_TRUE(f.Send(conv, a, da).ok());  // seq 2
  ASSERT_TRUE(Wait<ReceiptChange>([&](auto d) {
    s_.messages->MarkReceipt(b.user_id, db.device_id, conv, 2, true, NowMs(), d);
  }).ok());
  ASSERT_TRUE(f.Apply(gid, RemoveEdit(a, b)).ok());  // seq 3
  ASSERT_TRUE(f.Send(conv, a, da, "while b is out").ok());  // seq 4
  ASSERT_TRUE(f.Send(conv, a, da, "still out").ok());       // seq 5
  EXPECT_EQ(f.PendingSeqs(b, db), (std::vector<int64_t>{3}));

  auto back = f.Apply(gid, AddEdit(a, b, "back"));  // seq 6
  ASSERT_TRUE(back.ok()) << back.error().message;
  auto mb = s_.messages->GetMembership(conv, b.user_id);
  EXPECT_EQ(mb->joined_seq, 5);
  EXPECT_FALSE(mb->left_seq.has_value());
  EXPECT_EQ(f.PendingSeqs(b, db), (std::vector<int64_t>{6}));
  Device db2 = f.AddDevice(b);  // a device added later starts caught up
  EXPECT_TRUE(f.PendingSeqs(b, db2).empty());
  // Rejoined members come last in seniority.
  EXPECT_EQ(MemberIds(back->group), (std::vector<std::string>{a.user_id, b.user_id}));
  ASSERT_TRUE(f.Send(conv, b, db, "hello again").ok());
}

TEST_P(StoreConformance, ReceiptsGoToTheSendersTheyCoverAndTheMarker) {
  SKIP_WITHOUT_GROUPS();
  GroupFixture f(s_);
  User a = f.AddUser("alice"), b = f.AddUser("bob"), c = f.AddUser("carol"),
       d = f.AddUser("dave");
  Device da = f.AddDevice(a), db = f.AddDevice(b), dc = f.AddDevice(c);
  auto g = f.Create(f.Plan(a, {b, c, d}));  // seq 1, a system message by a
  ASSERT_TRUE(g.ok());
  const std::string conv = g->group.conversation_id;
  ASSERT_TRUE(f.Send(conv, b, db).ok());  // seq 2
  auto mark = [&](const User& u, const Device& dev, int64_t seq, bool read) {
    auto r = Wait<ReceiptChange>([&](auto done) {
      s_.messages->MarkReceipt(u.user_id, dev.device_id, conv, seq, read, NowMs(), done);
    });
    EXPECT_TRUE(r.ok());
    std::vector<std::string> ids = r.ok() ? r->recipient_ids : std::vector<std::string>{};
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  // Carol's mark covers a's seq 1 and b's seq 2: both senders and carol hear of it, dave not.
  EXPECT_EQ(mark(c, dc, 2, false), sorted({a.user_id, b.user_id, c.user_id}));
  ASSERT_TRUE(f.Send(conv, b, db, "two").ok());  // seq 3
  EXPECT_EQ(mark(c, dc, 3, false), sorted({b.user_id, c.user_id}));
  EXPECT_TRUE(mark(c, dc, 3, false).empty());  // moved nothing: no receipt
  // Reading what was delivered covers the same seqs again, for the read mark.
  EXPECT_EQ(mark(c, dc, 3, true), sorted({a.user_id, b.user_id, c.user_id}));
  // A marker's own messages bring no one else.
  ASSERT_TRUE(f.Send(conv, a, da, "mine").ok());  // seq 4
  EXPECT_EQ(mark(a, da, 4, false), sorted({b.user_id, a.user_id}));
}

TEST_P(StoreConformance, AFailedOrEmptyGroupEditWritesNothing) {
  SKIP_WITHOUT_GROUPS();
  GroupFixture f(s_);
  User a = f.AddUser("alice"), b = f.AddUser("bob"), c = f.AddUser("carol");
  auto g = f.Create(f.Plan(a, {b}));
  ASSERT_TRUE(g.ok());
  const std::string conv = g->group.conversation_id, gid = g->group.group_id;
  auto expect_untouched = [&](const char* what) {
    EXPECT_EQ(f.LastSeq(conv), 1) << what;
    auto now = s_.groups->GetGroup(gid);
    EXPECT_EQ(MemberIds(*now), (std::vector<std::string>{a.user_id, b.user_id})) << what;
    EXPECT_EQ(now->updated_at, g->group.updated_at) << what;
    EXPECT_EQ(now->name, "Team") << what;
  };

  auto refused = f.Edit(gid, [](const Group&) -> Result<GroupEdit> {
    return MakeError(ErrorCode::kForbidden, "no");
  });
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kForbidden);
  expect_untouched("planner error");

  User ghost;
  ghost.user_id = NewUuidV4();
  GroupEdit bad = AddEdit(a, ghost);
  bad.name = "Renamed";
  auto r = f.Apply(gid, bad);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  expect_untouched("unknown user");
  EXPECT_EQ(f.Apply(gid, AddEdit(a, b)).error().code, ErrorCode::kConflict);
  expect_untouched("already a member");
  EXPECT_EQ(f.Apply(gid, RemoveEdit(a, c)).error().code, ErrorCode::kNotFound);
  expect_untouched("not a member");
  GroupEdit role;
  role.actor_id = a.user_id;
  role.roles.emplace_back(b.user_id, "emperor");
  EXPECT_EQ(f.Apply(gid, role).error().code, ErrorCode::kInvalidArgument);
  expect_untouched("bad role");
  EXPECT_EQ(f.Apply(NewUuidV4(), AddEdit(a, c)).error().code, ErrorCode::kNotFound);

  Group seen;
  auto empty = f.Edit(gid, [&seen, actor = a.user_id](const Group& cur) -> Result<GroupEdit> {
    seen = cur;
    GroupEdit e;
    e.actor_id = actor;
    return e;
  });
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->changed);
  EXPECT_TRUE(empty->system_messages.empty());
  EXPECT_EQ(MemberIds(empty->group), MemberIds(seen));
  EXPECT_EQ(seen.group_id, gid);
  expect_untouched("empty edit");
}

TEST_P(StoreConformance, RenameAndRolesApplyWithTheConversationTitle) {
  SKIP_WITHOUT_GROUPS();
  GroupFixture f(s_);
  User a = f.AddUser("alice"), b = f.AddUser("bob");
  auto g = f.Create(f.Plan(a, {b}));
  ASSERT_TRUE(g.ok());
  GroupEdit e;
  e.actor_id = a.user_id;
  e.name = "Renamed";
  e.roles = {{b.user_id, "owner"}, {a.user_id, "admin"}};
  e.system_bodies = {"renamed", "b owner", "a admin"};
  auto r = f.Apply(g->group.group_id, e);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->group.name, "Renamed");
  EXPECT_EQ(r->group.Find(b.user_id)->role, "owner");
  EXPECT_EQ(r->group.Find(a.user_id)->role, "admin");
  ASSERT_EQ(r->system_messages.size(), 3u);
  EXPECT_EQ(r->system_messages[2].seq, 4);
  EXPECT_EQ(r->system_messages[2].body, "a admin");
  EXPECT_TRUE(r->joined.empty());
  EXPECT_TRUE(r->left.empty());
  EXPECT_EQ(s_.messages->GetConversation(g->group.conversation_id)->title, "Renamed");
}

TEST_P(StoreConformance, GroupsSurviveReopenAndTheLastLeaverLeavesThemEmpty) {
  SKIP_WITHOUT_GROUPS();
  GroupFixture f(s_);
  User a = f.AddUser("alice"), b = f.AddUser("bob"), c = f.AddUser("carol");
  auto g = f.Create(f.Plan(a, {b, c}));
  ASSERT_TRUE(g.ok());
  const std::string gid = g->group.group_id;
  ASSERT_TRUE(f.Apply(gid, RemoveEdit(a, b)).ok());
  ASSERT_TRUE(f.Apply(gid, AddEdit(a, b)).ok());
  Stores again = s_.reopen();
  s_ = again;
  auto got = s_.groups->GetGroup(gid);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(MemberIds(*got), (std::vector<std::string>{a.user_id, c.user_id, b.user_id}));
  EXPECT_EQ(got->members[0].role, "owner");
  for (const User* u : {&a, &b, &c}) {
    ASSERT_TRUE(f.Apply(gid, RemoveEdit(*u, *u)).ok());
  }
  got = s_.groups->GetGroup(gid);
  ASSERT_TRUE(got.ok());  // kept, with no one in it
  EXPECT_TRUE(got->members.empty());
  EXPECT_TRUE(s_.messages->ActiveMembers(g->group.conversation_id)->empty());
}

}  // namespace
}  // namespace parley::storage::conformance
