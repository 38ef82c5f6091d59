#include "storage/group_store.h"

#include <unordered_set>

namespace parley::storage {

Status CheckGroupEdit(const Group& g, const GroupEdit& e) {
  std::unordered_set<std::string> added;
  for (const auto& m : e.add) {
    if (g.Find(m.user_id) || !added.insert(m.user_id).second)
      return MakeError(ErrorCode::kConflict, "already a member: " + m.user_id);
    if (!IsGroupRole(m.role)) return MakeError(ErrorCode::kInvalidArgument, "not a group role");
  }
  for (const auto& [user, role] : e.roles) {
    if (!g.Find(user) && !added.count(user))
      return MakeError(ErrorCode::kNotFound, "not a member: " + user);
    if (!IsGroupRole(role)) return MakeError(ErrorCode::kInvalidArgument, "not a group role");
  }
  for (const auto& user : e.remove)
    if (!g.Find(user)) return MakeError(ErrorCode::kNotFound, "not a member: " + user);
  return OkStatus();
}

}  // namespace parley::storage
