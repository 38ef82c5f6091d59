// The E2EE engine's ConversationMembers (e2ee/ports.h) over the API: a group conversation's
// members as GET /v1/groups/{group_id} lists them now, the group id taken from the local store
// or, for a conversation not stored yet, from GET /v1/conversations. Never calls the engine, so
// the engine may call it with the client's engine mutex held.
#pragma once

#include <string>
#include <vector>

#include "sdk/api/api_client.h"
#include "sdk/e2ee/ports.h"
#include "sdk/store/local_store.h"

namespace parley::sdk {

class ApiConversationMembers : public ConversationMembers {
 public:
  // Both must outlive this object; both are thread-safe.
  ApiConversationMembers(ApiClient& api, LocalStore& store) : api_(api), store_(store) {}

  // kNotFound when this user has no group conversation of that id; kForbidden (403) when no
  // longer a member; other API errors pass through.
  Result<std::vector<std::string>> Members(const std::string& conversation_id) override;

 private:
  ApiClient& api_;
  LocalStore& store_;
};

}  // namespace parley::sdk
