#include "services/groups/groups_service.h"

#include <boost/json.hpp>

#include <unordered_set>

#include "common/async.h"
#include "common/ids.h"
#include "common/json_fields.h"
#include "events/event.h"
#include "services/chat/message_events.h"
#include "services/groups/group_json.h"
#include "services/groups/group_rules.h"

namespace parley::services {

using transport::Auth;
using transport::ErrorResponse;
using transport::HttpRequest;
using transport::HttpResponse;
using transport::JsonResponse;

namespace {

constexpr size_t kMaxNameBytes = 100;
// A bound on list lengths before the member limit is even looked at (the body limit bounds
// them too); past max_group_members the answer is 409, not 400.
constexpr size_t kMaxListItems = 100000;

std::optional<std::string> Name(Fields& f, bool required) {
  auto name = f.Str("name", required, kMaxNameBytes);
  if (f.ok() && name && name->empty()) f.Fail("name must not be empty");
  return name;
}

boost::json::array Ids(const std::vector<std::string>& ids) {
  boost::json::array a;
  a.reserve(ids.size());
  for (const auto& id : ids) a.emplace_back(id);
  return a;
}

}  // namespace

void GroupsService::Register(transport::Router& r) {
  auto bind = [this](Awaitable (GroupsService::*fn)(HttpRequest&)) {
    return [this, fn](HttpRequest& req) { return (this->*fn)(req); };
  };
  r.Add("POST", "/v1/create-group", Auth::kRequired, bind(&GroupsService::Create));
  r.Add("POST", "/v1/add-member", Auth::kRequired, bind(&GroupsService::AddMember));
  r.Add("POST", "/v1/remove-member", Auth::kRequired, bind(&GroupsService::RemoveMember));
  r.Add("POST", "/v1/update-group", Auth::kRequired, bind(&GroupsService::Update));
  r.Add("GET", "/v1/groups/{group_id}", Auth::kRequired, bind(&GroupsService::Get));
}

void GroupsService::Publish(const storage::GroupChange& c, bool created) {
  const storage::Group& g = c.group;
  for (const auto& m : c.system_messages) {
    PublishMessageSent(ctx_.deliveries, ctx_.outbox, m, c.audience);
  }
  const std::string& actor = c.actor_id;
  for (const auto& user : c.joined) {
    const storage::GroupMember* m = g.Find(user);
    ctx_.bus.Publish(events::topic::kGroupMember,
                     events::MakeEvent(events::type::kMemberJoinedGroup, g.group_id,
                                       {{"group_id", g.group_id},
                                        {"conversation_id", g.conversation_id},
                                        {"user_id", user},
                                        {"role", m ? m->role : std::string()},
                                        {"joined_at", m ? m->joined_at : 0},
                                        {"actor_id", actor}}));
  }
  for (const auto& user : c.left) {
    ctx_.bus.Publish(events::topic::kGroupMember,
                     events::MakeEvent(events::type::kMemberLeftGroup, g.group_id,
                                       {{"group_id", g.group_id},
                                        {"conversation_id", g.conversation_id},
                                        {"user_id", user},
                                        {"removed", user != actor},
                                        {"actor_id", actor}}));
  }
  ctx_.bus.Publish(events::topic::kGroup,
                   events::MakeEvent(created ? events::type::kGroupCreated
                                             : events::type::kGroupUpdated,
                                     g.group_id,
                                     {{"group_id", g.group_id},
                                      {"actor_id", actor},
                                      {"group", GroupToJson(g)},
                                      {"recipient_ids", Ids(c.audience)}}));
}

GroupsService::Awaitable GroupsService::Edit(const std::string& group_id,
                                             const storage::GroupPlanner& plan) {
  auto r = co_await AwaitDone<storage::GroupChange>([&](auto done) {
    store_.EditGroup(group_id, plan, [this, done](Result<storage::GroupChange> res) {
      if (res.ok() && res->changed) Publish(*res, false);  // on the completion thread, in order
      done(std::move(res));
    });
  });
  if (!r.ok()) co_return ErrorResponse(r.error());
  co_return JsonResponse(200, GroupToJson(r->group));
}

GroupsService::Awaitable GroupsService::Create(HttpRequest& req) {
  auto body = ParseJsonObject(req.body);
  if (!body.ok()) co_return ErrorResponse(body.error());
  Fields f(*body);
  auto name = Name(f, true);
  auto ids = f.StrList("member_ids", true, kMaxListItems, 64);
  if (f.ok()) {
    for (auto& id : *ids) {
      auto n = NormalizeUuid(id);
      if (!n) {
        f.Fail("member_ids must be user ids (UUIDs)");
        break;
      }
      id = *n;
    }
  }
  if (!f.ok()) co_return ErrorResponse(f.error());
  auto group = PlanCreateGroup(req.principal->user_id, *name, *ids, ctx_.config.max_group_members);
  if (!group.ok()) co_return ErrorResponse(group.error());
  auto r = co_await AwaitDone<storage::GroupChange>([&](auto done) {
    store_.CreateGroup(std::move(*group), [this, done](Result<storage::GroupChange> res) {
      if (res.ok()) Publish(*res, true);
      done(std::move(res));
    });
  });
  if (!r.ok()) co_return ErrorResponse(r.error());
  co_return JsonResponse(201, GroupToJson(r->group));
}

GroupsService::Awaitable GroupsService::AddMember(HttpRequest& req) {
  auto body = ParseJsonObject(req.body);
  if (!body.ok()) co_return ErrorResponse(body.error());
  Fields f(*body);
  auto group_id = f.Uuid("group_id", true);
  auto user_id = f.Uuid("user_id", true);
  auto role = f.Str("role", false, 16);
  if (f.ok() && role && *role != storage::kRoleAdmin && *role != storage::kRoleMember)
    f.Fail("role must be admin or member (make someone owner with update-group)");
  if (!f.ok()) co_return ErrorResponse(f.error());
  storage::GroupPlanner plan = [actor = req.principal->user_id, user = *user_id,
                                role = role.value_or(std::string(storage::kRoleMember)),
                                max = ctx_.config.max_group_members](const storage::Group& g) {
    return PlanAddMember(g, actor, user, role, max);
  };
  co_return co_await Edit(*group_id, plan);
}

GroupsService::Awaitable GroupsService::RemoveMember(HttpRequest& req) {
  auto body = ParseJsonObject(req.body);
  if (!body.ok()) co_return ErrorResponse(body.error());
  Fields f(*body);
  auto group_id = f.Uuid("group_id", true);
  auto user_id = f.Uuid("user_id", true);
  if (!f.ok()) co_return ErrorResponse(f.error());
  storage::GroupPlanner plan = [actor = req.principal->user_id,
                                user = *user_id](const storage::Group& g) {
    return PlanRemoveMember(g, actor, user);
  };
  co_return co_await Edit(*group_id, plan);
}

GroupsService::Awaitable GroupsService::Update(HttpRequest& req) {
  auto body = ParseJsonObject(req.body);
  if (!body.ok()) co_return ErrorResponse(body.error());
  Fields f(*body);
  auto group_id = f.Uuid("group_id", true);
  GroupUpdate update;
  update.name = Name(f, false);
  const boost::json::object* roles = f.Obj("roles", false);
  if (f.ok() && roles) {
    if (roles->size() > ctx_.config.max_group_members) f.Fail("roles names too many members");
    std::unordered_set<std::string> seen;
    for (const auto& [key, value] : *roles) {
      if (!f.ok()) break;
      auto user = NormalizeUuid(key);
      if (!user) {
        f.Fail("roles must map user ids (UUIDs) to roles");
      } else if (!value.is_string() || !storage::IsGroupRole(value.as_string())) {
        f.Fail("a role must be owner, admin or member");
      } else if (!seen.insert(*user).second) {
        f.Fail("roles names a user twice");
      } else {
        update.roles.emplace_back(*user, std::string(value.as_string()));
      }
    }
  }
  if (f.ok() && !update.name && !roles) f.Fail("give name or roles");
  if (!f.ok()) co_return ErrorResponse(f.error());
  storage::GroupPlanner plan = [actor = req.principal->user_id,
                                update = std::move(update)](const storage::Group& g) {
    return PlanUpdateGroup(g, actor, update);
  };
  co_return co_await Edit(*group_id, plan);
}

GroupsService::Awaitable GroupsService::Get(HttpRequest& req) {
  auto id = NormalizeUuid(req.path_params["group_id"]);
  if (!id) co_return ErrorResponse(MakeError(ErrorCode::kInvalidArgument, "group_id must be a UUID"));
  const std::string user = req.principal->user_id;
  auto group = co_await OnPool(ctx_.blocking, [&]() -> Result<storage::Group> {
    auto g = store_.GetGroup(*id);
    if (!g.ok()) return g.error();
    if (!g->Find(user)) return MakeError(ErrorCode::kForbidden, "not a member of this group");
    return g;
  });
  if (!group.ok()) co_return ErrorResponse(group.error());
  co_return JsonResponse(200, GroupToJson(*group));
}

}  // namespace parley::services
