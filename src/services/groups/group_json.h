// The contract's group object, shared by HTTP responses, `group` frames and events.
#pragma once

#include <boost/json/object.hpp>

#include "storage/group_store.h"

namespace parley::services {

// {group_id, conversation_id, name, creator_id, created_at, updated_at,
//  members:[{user_id, role, joined_at}]}, members in seniority order.
boost::json::object GroupToJson(const storage::Group& g);

}  // namespace parley::services
