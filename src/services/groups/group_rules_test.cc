#include "services/groups/group_rules.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <boost/json.hpp>

namespace parley::services {
namespace {

using storage::Group;
using storage::GroupEdit;

// owner o, admins a1 (older) and a2, members m1 (older) and m2.
Group Sample() {
  Group g;
  g.group_id = "g";
  g.name = "Team";
  g.members = {{"m1", "member", 1}, {"o", "owner", 1}, {"a2", "admin", 3},
               {"a1", "admin", 2}, {"m2", "member", 4}};
  // Seniority order, as the store returns it.
  std::stable_sort(g.members.begin(), g.members.end(),
                   [](const auto& x, const auto& y) { return x.joined_at < y.joined_at; });
  return g;
}

ErrorCode Code(const Result<GroupEdit>& r) { return r.ok() ? ErrorCode::kInternal : r.error().code; }

std::string Event(const std::string& body) {
  return std::string(boost::json::parse(body).as_object().at("event").as_string());
}

TEST(GroupRules, CreateMakesTheCreatorOwnerAndBoundsMembers) {
  auto g = PlanCreateGroup("o", "Team", {"x", "o", "y", "x"}, 3);
  ASSERT_TRUE(g.ok());
  ASSERT_EQ(g->members.size(), 3u);
  EXPECT_EQ(g->members[0].user_id, "o");
  EXPECT_EQ(g->members[0].role, "owner");
  EXPECT_EQ(g->members[2].user_id, "y");
  EXPECT_EQ(g->members[2].role, "member");
  EXPECT_NE(g->group_id, g->conversation_id);
  auto body = boost::json::parse(g->system_body).as_object();
  EXPECT_EQ(body.at("event"), "group_created");
  EXPECT_EQ(body.at("member_ids").as_array().size(), 2u);
  auto full = PlanCreateGroup("o", "Team", {"x", "y", "z"}, 3);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, ErrorCode::kConflict);
}

TEST(GroupRules, OnlyOwnerAndAdminsAdd) {
  Group g = Sample();
  EXPECT_EQ(Code(PlanAddMember(g, "m1", "new", "member", 100)), ErrorCode::kForbidden);
  EXPECT_EQ(Code(PlanAddMember(g, "stranger", "new", "member", 100)), ErrorCode::kForbidden);
  auto byAdmin = PlanAddMember(g, "a2", "new", "admin", 100);
  ASSERT_TRUE(byAdmin.ok());
  ASSERT_EQ(byAdmin->add.size(), 1u);
  EXPECT_EQ(byAdmin->add[0].role, "admin");
  EXPECT_EQ(byAdmin->actor_id, "a2");
  EXPECT_EQ(Event(byAdmin->system_bodies.at(0)), "member_added");
  auto twice = PlanAddMember(g, "o", "m2", "admin", 100);
  ASSERT_TRUE(twice.ok());
  EXPECT_TRUE(twice->empty());  // adding a member twice changes nothing
  EXPECT_EQ(Code(PlanAddMember(g, "o", "new", "member", 5)), ErrorCode::kConflict);
  EXPECT_TRUE(PlanAddMember(g, "o", "m2", "member", 5).ok());  // no-op even when full
}

TEST(GroupRules, RemovingAndLeaving) {
  Group g = Sample();
  EXPECT_EQ(Code(PlanRemoveMember(g, "m1", "m2")), ErrorCode::kForbidden);
  EXPECT_EQ(Code(PlanRemoveMember(g, "a1", "o")), ErrorCode::kForbidden);
  EXPECT_EQ(Code(PlanRemoveMember(g, "o", "stranger")), ErrorCode::kNotFound);
  EXPECT_EQ(Code(PlanRemoveMember(g, "stranger", "stranger")), ErrorCode::kForbidden);
  auto kick = PlanRemoveMember(g, "a1", "a2");
  ASSERT_TRUE(kick.ok());
  EXPECT_EQ(kick->remove, std::vector<std::string>{"a2"});
  EXPECT_EQ(Event(kick->system_bodies.at(0)), "member_removed");
  auto leave = PlanRemoveMember(g, "m1", "m1");
  ASSERT_TRUE(leave.ok());
  EXPECT_EQ(leave->remove, std::vector<std::string>{"m1"});
  EXPECT_TRUE(leave->roles.empty());
  EXPECT_EQ(Event(leave->system_bodies.at(0)), "member_left");
}

TEST(GroupRules, ALeavingOwnerHandsOverToTheOldestAdminElseTheOldestMember) {
  Group g = Sample();
  auto leave = PlanRemoveMember(g, "o", "o");
  ASSERT_TRUE(leave.ok());
  ASSERT_EQ(leave->roles.size(), 1u);
  EXPECT_EQ(leave->roles[0], (std::pair<std::string, std::string>{"a1", "owner"}));
  EXPECT_EQ(Event(leave->system_bodies.at(1)), "role_changed");

  Group no_admins = g;
  for (auto& m : no_admins.members)
    if (m.role == "admin") m.role = "member";
  auto to_member = PlanRemoveMember(no_admins, "o", "o");
  EXPECT_EQ(to_member->roles.at(0).first, "m1");

  Group alone;
  alone.members = {{"o", "owner", 1}};
  auto last = PlanRemoveMember(alone, "o", "o");
  ASSERT_TRUE(last.ok());
  EXPECT_TRUE(last->roles.empty());
  EXPECT_EQ(last->remove.size(), 1u);
}

TEST(GroupRules, UpdatingNameAndRoles) {
  Group g = Sample();
  EXPECT_EQ(Code(PlanUpdateGroup(g, "m1", {"New", {}})), ErrorCode::kForbidden);
  EXPECT_EQ(Code(PlanUpdateGroup(g, "m1", {std::nullopt, {{"m1", "admin"}}})),
            ErrorCode::kForbidden);
  auto rename = PlanUpdateGroup(g, "a1", {"New", {}});
  ASSERT_TRUE(rename.ok());
  EXPECT_EQ(rename->name, "New");
  EXPECT_EQ(Event(rename->system_bodies.at(0)), "group_renamed");
  EXPECT_TRUE(PlanUpdateGroup(g, "a1", {"Team", {}})->empty());  // same name: nothing

  auto promote = PlanUpdateGroup(g, "a1", {std::nullopt, {{"m1", "admin"}, {"a2", "member"}}});
  ASSERT_TRUE(promote.ok());
  EXPECT_EQ(promote->roles.size(), 2u);
  EXPECT_EQ(promote->system_bodies.size(), 2u);
  EXPECT_TRUE(PlanUpdateGroup(g, "a1", {std::nullopt, {{"m1", "member"}}})->empty());
  EXPECT_EQ(Code(PlanUpdateGroup(g, "a1", {std::nullopt, {{"nobody", "admin"}}})),
            ErrorCode::kNotFound);
  // Admins cannot touch the owner or make an owner.
  EXPECT_EQ(Code(PlanUpdateGroup(g, "a1", {std::nullopt, {{"o", "member"}}})),
            ErrorCode::kForbidden);
  EXPECT_EQ(Code(PlanUpdateGroup(g, "a1", {std::nullopt, {{"m1", "owner"}}})),
            ErrorCode::kForbidden);
  // The owner's role moves only with a transfer.
  EXPECT_EQ(Code(PlanUpdateGroup(g, "o", {std::nullopt, {{"o", "admin"}}})),
            ErrorCode::kConflict);
  EXPECT_TRUE(PlanUpdateGroup(g, "o", {std::nullopt, {{"o", "owner"}}})->empty());
  EXPECT_EQ(Code(PlanUpdateGroup(g, "o", {std::nullopt, {{"m1", "owner"}, {"m2", "owner"}}})),
            ErrorCode::kInvalidArgument);
}

TEST(GroupRules, MakingSomeoneOwnerTransfersOwnership) {
  Group g = Sample();
  auto t = PlanUpdateGroup(g, "o", {std::nullopt, {{"m2", "owner"}}});
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->roles.size(), 2u);
  EXPECT_EQ(t->roles[0], (std::pair<std::string, std::string>{"m2", "owner"}));
  EXPECT_EQ(t->roles[1], (std::pair<std::string, std::string>{"o", "admin"}));
  auto to_member = PlanUpdateGroup(g, "o", {std::nullopt, {{"o", "member"}, {"m2", "owner"}}});
  ASSERT_TRUE(to_member.ok());
  EXPECT_EQ(to_member->roles[1], (std::pair<std::string, std::string>{"o", "member"}));
}

}  // namespace
}  // namespace parley::services
