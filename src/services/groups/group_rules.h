// The rules of group management, as pure functions of the group's current state: who may add,
// remove, re-role and rename, what a leave does to ownership, the member limit, and the system
// messages each change leaves in the conversation. No I/O: the store runs them inside its write
// transaction (see GroupStore::EditGroup), so a check and its write cannot be split by another
// change. Errors are the API's answers: kForbidden, kNotFound, kConflict, kInvalidArgument.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "storage/group_store.h"

namespace parley::services {

// create-group: the creator becomes owner, the others members, in the order given (duplicates
// and the creator's own id dropped). kConflict if that makes more than max_members.
Result<storage::NewGroup> PlanCreateGroup(const std::string& actor, const std::string& name,
                                          const std::vector<std::string>& member_ids,
                                          size_t max_members);

// add-member with `role` admin or member. Adding a current member is an empty edit.
Result<storage::GroupEdit> PlanAddMember(const storage::Group& g, const std::string& actor,
                                         const std::string& user, const std::string& role,
                                         size_t max_members);

// remove-member; actor == user is a leave. A leaving owner hands ownership to the oldest admin,
// else the oldest member; the last member leaving leaves the group empty (and inactive).
Result<storage::GroupEdit> PlanRemoveMember(const storage::Group& g, const std::string& actor,
                                            const std::string& user);

struct GroupUpdate {
  std::optional<std::string> name;
  std::vector<std::pair<std::string, std::string>> roles;  // (user, owner|admin|member)
};
// update-group. Making someone owner is a transfer (owner only): the old owner becomes admin,
// or what `roles` names for them. Nothing that differs from the current state: an empty edit.
Result<storage::GroupEdit> PlanUpdateGroup(const storage::Group& g, const std::string& actor,
                                           const GroupUpdate& update);

}  // namespace parley::services
