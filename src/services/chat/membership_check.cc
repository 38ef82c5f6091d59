#include "services/chat/membership_check.h"

namespace parley::services {

namespace {
Error NoSuchConversation() { return MakeError(ErrorCode::kNotFound, "no such conversation"); }
}  // namespace

Result<storage::Membership> MembershipOf(storage::MessageStore& store,
                                         const std::string& conversation_id,
                                         const std::string& user_id) {
  auto m = store.GetMembership(conversation_id, user_id);
  if (!m.ok() && m.error().code == ErrorCode::kNotFound) return NoSuchConversation();
  return m;
}

Error HideFromStrangers(storage::MessageStore& store, Error e, const std::string& conversation_id,
                        const std::string& user_id) {
  if (e.code != ErrorCode::kForbidden) return e;
  auto m = store.GetMembership(conversation_id, user_id);
  if (!m.ok() && m.error().code == ErrorCode::kNotFound) return NoSuchConversation();
  return e;
}

}  // namespace parley::services
