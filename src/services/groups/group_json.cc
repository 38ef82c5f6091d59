#include "services/groups/group_json.h"

#include <boost/json.hpp>

namespace parley::services {

boost::json::object GroupToJson(const storage::Group& g) {
  boost::json::array members;
  members.reserve(g.members.size());
  for (const auto& m : g.members)
    members.push_back({{"user_id", m.user_id}, {"role", m.role}, {"joined_at", m.joined_at}});
  return {{"group_id", g.group_id},
          {"conversation_id", g.conversation_id},
          {"name", g.name},
          {"creator_id", g.creator_id},
          {"created_at", g.created_at},
          {"updated_at", g.updated_at},
          {"members", std::move(members)}};
}

}  // namespace parley::services
