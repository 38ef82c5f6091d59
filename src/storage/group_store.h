// GroupStore: groups, their members and roles, kept in step with the group's conversation.
//
// A group owns one conversation (type "group", title = the group's name). Membership of the
// conversation follows the group, in the same transaction as the change:
// - joining sets joined_seq = the conversation's last_seq before the change's system messages
//   (so the joiner sees how they joined and everything after), and starts the delivery cursor of
//   every active device of the joiner there, replacing any cursor left from an earlier membership;
// - leaving or removal sets left_seq = last_seq after the change's system messages (the leaver
//   sees their own removal and nothing newer; Append then refuses them);
// - a re-join starts afresh: joined_seq moves to the current last_seq and left_seq is cleared,
//   so the stretch of an earlier membership is no longer visible.
// Every change appends its system messages (content_type "system", encryption "none", sender =
// the acting user, sender_device_id empty so every device gets them) with the next seqs.
//
// The rules (who may do what) are not the store's: a change is a GroupPlanner that decides the
// edit from the group's current state inside the write transaction, so rule checks and writes
// are atomic. Threading and errors as in auth_store.h.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/model.h"

namespace parley::storage {

inline constexpr std::string_view kRoleOwner = "owner";
inline constexpr std::string_view kRoleAdmin = "admin";
inline constexpr std::string_view kRoleMember = "member";
inline bool IsGroupRole(std::string_view r) {
  return r == kRoleOwner || r == kRoleAdmin || r == kRoleMember;
}

struct GroupMember {
  std::string user_id;
  std::string role;  // owner, admin or member
  int64_t joined_at = 0;
};

struct Group {
  std::string group_id;
  std::string conversation_id;
  std::string name;
  std::string creator_id;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  // Current members in seniority order: joined_at, then the order they joined in.
  std::vector<GroupMember> members;

  const GroupMember* Find(std::string_view user_id) const {
    for (const auto& m : members)
      if (m.user_id == user_id) return &m;
    return nullptr;
  }
};

struct NewGroup {
  std::string group_id;
  std::string conversation_id;
  std::string name;
  std::string creator_id;
  std::vector<GroupMember> members;  // in seniority order; joined_at is set by the store
  std::string system_body;           // the creation system message, sent by the creator
};

// What one change does. Applied in this order: name, adds, roles, removals, system messages.
struct GroupEdit {
  std::string actor_id;  // the sender of the system messages
  std::optional<std::string> name;
  std::vector<GroupMember> add;                           // users who join; joined_at ignored
  std::vector<std::pair<std::string, std::string>> roles;  // (member, new role)
  std::vector<std::string> remove;                        // members who leave
  std::vector<std::string> system_bodies;                 // appended in this order

  bool empty() const {
    return !name && add.empty() && roles.empty() && remove.empty() && system_bodies.empty();
  }
};

// Decides the edit from the group's current state. Runs on the store's writer thread inside the
// transaction: it must be quick, must not block and must not touch the store. An error aborts
// the change (nothing is written) and is what the store reports.
using GroupPlanner = std::function<Result<GroupEdit>(const Group& current)>;

struct GroupChange {
  Group group;           // after the change
  bool changed = false;  // false: the edit was empty and nothing was written
  std::string actor_id;  // who made the change (the creator, for a creation)
  std::vector<std::string> joined;  // users who joined, in the edit's order
  std::vector<std::string> left;    // users who left or were removed
  std::vector<Message> system_messages;  // seq ascending
  // Who must hear about the change: the members after it, then those it removed.
  std::vector<std::string> audience;
};

// The store-independent part of EditGroup's contract, checked against the current group before
// anything is written: kConflict if a user to add is already a member (or added twice),
// kNotFound if a user to re-role or remove is not a member, kInvalidArgument if a role is not a
// group role. Every adapter calls it (group_store.cc).
Status CheckGroupEdit(const Group& g, const GroupEdit& e);

class GroupStore {
 public:
  virtual ~GroupStore() = default;

  // Creates the group, its conversation, its members (joined_seq 0) and the creation system
  // message, atomically. kNotFound if a member names no user; kConflict if the group_id or the
  // conversation_id is taken; kInvalidArgument if a role is not a group role.
  virtual void CreateGroup(NewGroup group, Done<GroupChange> done) = 0;

  // Runs `plan` on the group's current state and applies its edit atomically with the
  // conversation membership and the system messages. An empty edit writes nothing (changed =
  // false, the current group returned). kNotFound: no such group, or a user to add does not
  // exist, or a user to remove or re-role is not a member. kConflict: a user to add is already
  // a member. kInvalidArgument: a role is not a group role. The planner's own errors as it
  // returns them. On any error nothing is written.
  virtual void EditGroup(std::string group_id, GroupPlanner plan, Done<GroupChange> done) = 0;

  // The group with its current members (none once everyone has left). kNotFound if absent.
  virtual Result<Group> GetGroup(std::string_view group_id) = 0;
};

}  // namespace parley::storage
