// Group management: create-group, add-member, remove-member (and leave), update-group and
// GET /v1/groups/{group_id}. The rules live in group_rules.h; the store applies a change with its
// conversation membership and system messages in one transaction.
//
// From the commit completion (completion thread, commit order) each change publishes: MESSAGE_SENT
// and CONVERSATION_UPDATED per system message (to the members and those it removed, so the
// gateway delivers it like any message), MEMBER_JOINED_GROUP / MEMBER_LEFT_GROUP per member on
// group-member-events, then GROUP_CREATED or GROUP_UPDATED on group-events with the whole group
// and `recipient_ids`, which the gateway turns into `group` frames. A change that changes
// nothing publishes nothing.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "services/context.h"
#include "storage/group_store.h"
#include "transport/router.h"

namespace parley::services {

class GroupsService {
 public:
  GroupsService(Context& ctx, storage::GroupStore& store) : ctx_(ctx), store_(store) {}
  void Register(transport::Router& router);

 private:
  using Awaitable = boost::asio::awaitable<transport::HttpResponse>;
  Awaitable Create(transport::HttpRequest& req);
  Awaitable AddMember(transport::HttpRequest& req);
  Awaitable RemoveMember(transport::HttpRequest& req);
  Awaitable Update(transport::HttpRequest& req);
  Awaitable Get(transport::HttpRequest& req);

  // Runs `plan` on the group in the store and answers 200 with the group after it.
  Awaitable Edit(const std::string& group_id, const storage::GroupPlanner& plan);
  // Publishes what a committed change produced. On the store's completion thread; must not block.
  void Publish(const storage::GroupChange& change, bool created);

  Context& ctx_;
  storage::GroupStore& store_;
};

}  // namespace parley::services
