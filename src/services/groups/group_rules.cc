#include "services/groups/group_rules.h"

#include <boost/json.hpp>

#include <unordered_set>

#include "common/ids.h"

namespace parley::services {

using storage::Group;
using storage::GroupEdit;
using storage::GroupMember;
using storage::kRoleAdmin;
using storage::kRoleMember;
using storage::kRoleOwner;

namespace {

// The body of a system message: {"event", "actor", …} as compact JSON.
std::string Body(std::string_view event, const std::string& actor, boost::json::object more) {
  boost::json::object o{{"event", event}, {"actor", actor}};
  for (auto& [k, v] : more) o[k] = std::move(v);
  return boost::json::serialize(o);
}

std::string RoleChanged(const std::string& actor, const std::string& user, std::string_view role) {
  return Body("role_changed", actor, {{"user_id", user}, {"role", role}});
}

// The acting member, or kForbidden. `manage`: the action needs owner or admin.
Result<const GroupMember*> Actor(const Group& g, const std::string& actor, bool manage,
                                 std::string_view what) {
  const GroupMember* me = g.Find(actor);
  if (!me) return MakeError(ErrorCode::kForbidden, "not a member of this group");
  if (manage && me->role == kRoleMember) {
    return MakeError(ErrorCode::kForbidden,
                     "only the owner and admins can " + std::string(what));
  }
  return me;
}

const GroupMember* Owner(const Group& g) {
  for (const auto& m : g.members)
    if (m.role == kRoleOwner) return &m;
  return nullptr;
}

}  // namespace

Result<storage::NewGroup> PlanCreateGroup(const std::string& actor, const std::string& name,
                                          const std::vector<std::string>& member_ids,
                                          size_t max_members) {
  storage::NewGroup g;
  g.group_id = NewUuidV4();
  g.conversation_id = NewUuidV4();
  g.name = name;
  g.creator_id = actor;
  g.members.push_back({actor, std::string(kRoleOwner), 0});
  std::unordered_set<std::string> seen{actor};
  boost::json::array added;
  for (const auto& id : member_ids) {
    if (!seen.insert(id).second) continue;
    if (g.members.size() >= max_members) {
      return MakeError(ErrorCode::kConflict, "a group has at most " +
                                                 std::to_string(max_members) + " members");
    }
    g.members.push_back({id, std::string(kRoleMember), 0});
    added.emplace_back(id);
  }
  g.system_body = Body("group_created", actor, {{"name", name}, {"member_ids", std::move(added)}});
  return g;
}

Result<GroupEdit> PlanAddMember(const Group& g, const std::string& actor, const std::string& user,
                                const std::string& role, size_t max_members) {
  auto me = Actor(g, actor, true, "add members");
  if (!me.ok()) return me.error();
  GroupEdit e;
  e.actor_id = actor;
  if (g.Find(user)) return e;  // adding a member twice changes nothing
  if (role != kRoleAdmin && role != kRoleMember)
    return MakeError(ErrorCode::kInvalidArgument, "role must be admin or member");
  if (g.members.size() >= max_members) {
    return MakeError(ErrorCode::kConflict,
                     "a group has at most " + std::to_string(max_members) + " members");
  }
  e.add.push_back({user, role, 0});
  e.system_bodies.push_back(Body("member_added", actor, {{"user_id", user}, {"role", role}}));
  return e;
}

Result<GroupEdit> PlanRemoveMember(const Group& g, const std::string& actor,
                                   const std::string& user) {
  auto me = Actor(g, actor, false, "");
  if (!me.ok()) return me.error();
  const GroupMember* target = g.Find(user);
  if (!target) return MakeError(ErrorCode::kNotFound, "not a member of this group");
  GroupEdit e;
  e.actor_id = actor;
  e.remove.push_back(user);
  if (user == actor) {
    e.system_bodies.push_back(Body("member_left", actor, {{"user_id", user}}));
    if ((*me)->role == kRoleOwner) {
      const GroupMember* next = nullptr;  // the oldest admin, else the oldest member
      for (const auto& m : g.members) {
        if (m.user_id == actor) continue;
        if (m.role == kRoleAdmin) {
          next = &m;
          break;
        }
        if (!next) next = &m;
      }
      if (next) {
        e.roles.emplace_back(next->user_id, kRoleOwner);
        e.system_bodies.push_back(RoleChanged(actor, next->user_id, kRoleOwner));
      }
    }
    return e;
  }
  if ((*me)->role == kRoleMember)
    return MakeError(ErrorCode::kForbidden, "only the owner and admins can remove members");
  if (target->role == kRoleOwner)
    return MakeError(ErrorCode::kForbidden, "the owner cannot be removed");
  e.system_bodies.push_back(Body("member_removed", actor, {{"user_id", user}}));
  return e;
}

Result<GroupEdit> PlanUpdateGroup(const Group& g, const std::string& actor,
                                  const GroupUpdate& u) {
  auto me = Actor(g, actor, true, "change the group");
  if (!me.ok()) return me.error();
  GroupEdit e;
  e.actor_id = actor;
  if (u.name && *u.name != g.name) {
    e.name = u.name;
    e.system_bodies.push_back(Body("group_renamed", actor, {{"name", *u.name}}));
  }
  const GroupMember* owner = Owner(g);
  std::optional<std::string> new_owner;
  for (const auto& [user, role] : u.roles) {
    if (!g.Find(user)) return MakeError(ErrorCode::kNotFound, "not a member of this group: " + user);
    if (role != kRoleOwner || (owner && owner->user_id == user)) continue;
    if ((*me)->role != kRoleOwner)
      return MakeError(ErrorCode::kForbidden, "only the owner can make someone owner");
    if (new_owner) return MakeError(ErrorCode::kInvalidArgument, "a group has one owner");
    new_owner = user;
  }
  std::optional<std::string> old_owner_role;
  for (const auto& [user, role] : u.roles) {
    const GroupMember* m = g.Find(user);
    if (m->role == kRoleOwner) {
      if (role == kRoleOwner) continue;
      if ((*me)->role != kRoleOwner)
        return MakeError(ErrorCode::kForbidden, "only the owner can change the owner's role");
      if (!new_owner) {
        return MakeError(ErrorCode::kConflict,
                         "the owner's role changes only by making another member owner");
      }
      old_owner_role = role;
    } else if (role != kRoleOwner && role != m->role) {
      e.roles.emplace_back(user, role);
      e.system_bodies.push_back(RoleChanged(actor, user, role));
    }
  }
  if (new_owner) {
    e.roles.emplace_back(*new_owner, kRoleOwner);
    e.system_bodies.push_back(RoleChanged(actor, *new_owner, kRoleOwner));
    if (owner) {
      std::string demoted = old_owner_role.value_or(std::string(kRoleAdmin));
      e.roles.emplace_back(owner->user_id, demoted);
      e.system_bodies.push_back(RoleChanged(actor, owner->user_id, demoted));
    }
  }
  return e;
}

}  // namespace parley::services
