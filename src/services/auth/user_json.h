// The public JSON of a user: never the password hash.
#pragma once

#include <boost/json/object.hpp>

#include "storage/model.h"

namespace parley::services {

inline boost::json::object UserToJson(const storage::User& u) {
  return {{"user_id", u.user_id},
          {"username", u.username},
          {"display_name", u.display_name},
          {"profile_pic_url", u.profile_pic_url},
          {"created_at", u.created_at}};
}

}  // namespace parley::services
