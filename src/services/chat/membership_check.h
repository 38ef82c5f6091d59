// What a caller who is not a member of a conversation learns about it: nothing. A conversation
// the caller never belonged to answers exactly as one that does not exist (404 "no such
// conversation"), since a direct conversation's id is computable from its two users and a 403
// would tell anyone whether they ever talked. A former member keeps the 403 ("not a member of
// this conversation"): they know it exists. Both are blocking reads (run them on the pool).
#pragma once

#include <string>

#include "common/result.h"
#include "storage/message_store.h"

namespace parley::services {

// The caller's membership (current or former); kNotFound "no such conversation" when they were
// never a member, whether or not the conversation exists.
Result<storage::Membership> MembershipOf(storage::MessageStore& store,
                                         const std::string& conversation_id,
                                         const std::string& user_id);

// `e` as the caller may see it: a kForbidden for someone who was never a member becomes the
// kNotFound of a conversation that does not exist; anything else is returned as it is.
Error HideFromStrangers(storage::MessageStore& store, Error e, const std::string& conversation_id,
                        const std::string& user_id);

}  // namespace parley::services
