#include "sdk/client/client_members.h"

namespace parley::sdk {

Result<std::vector<std::string>> ApiConversationMembers::Members(
    const std::string& conversation_id) {
  std::string group_id;
  auto local = store_.GetConversation(conversation_id);
  if (!local.ok()) return local.error();
  if (*local) group_id = (*local)->group_id;
  if (group_id.empty()) {  // a group this device has not stored yet (keys come before messages)
    auto listed = api_.ListConversations();
    if (!listed.ok()) return listed.error();
    for (const auto& c : *listed) {
      if (c.conversation_id == conversation_id) group_id = c.group_id;
    }
  }
  if (group_id.empty()) return MakeError(ErrorCode::kNotFound, "no such group conversation");
  auto group = api_.GetGroup(group_id);
  if (!group.ok()) return group.error();
  std::vector<std::string> out;
  out.reserve(group->members.size());
  for (const auto& m : group->members) out.push_back(m.user_id);
  return out;
}

}  // namespace parley::sdk
