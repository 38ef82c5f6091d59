// Client: groups, devices, safety numbers and presence.
#include "common/ids.h"
#include "sdk/client/client.h"

namespace parley::sdk {

Result<Group> Client::GroupOf(const std::string& group) {
  PARLEY_TRY(RequireSession());
  auto id = NormalizeUuid(group);
  if (!id) return MakeError(ErrorCode::kInvalidArgument, "not a group id: " + group);
  std::string group_id = *id;
  if (auto c = store_->GetConversation(*id); c.ok() && *c && !(*c)->group_id.empty())
    group_id = (*c)->group_id;  // a conversation id works too
  auto g = api_->GetGroup(group_id);
  if (g.ok()) RememberGroup(*g);
  return g;
}

Result<Group> Client::CreateGroup(const std::string& name,
                                  const std::vector<std::string>& members) {
  PARLEY_TRY(RequireSession());
  std::vector<std::string> ids;
  for (const auto& m : members) {
    auto id = UserIdOf(m);
    if (!id.ok()) return id.error();
    ids.push_back(*id);
  }
  auto g = api_->CreateGroup(name, ids);
  if (g.ok()) RememberGroup(*g);
  return g;
}

Result<Group> Client::AddMember(const std::string& group, const std::string& user,
                                const std::string& role) {
  auto g = GroupOf(group);
  if (!g.ok()) return g.error();
  auto uid = UserIdOf(user);
  if (!uid.ok()) return uid.error();
  return api_->AddMember(g->group_id, *uid, role);
}

Result<Group> Client::RemoveMember(const std::string& group, const std::string& user) {
  auto g = GroupOf(group);
  if (!g.ok()) return g.error();
  auto uid = UserIdOf(user);
  if (!uid.ok()) return uid.error();
  return api_->RemoveMember(g->group_id, *uid);
}

Result<Group> Client::SetRole(const std::string& group, const std::string& user,
                              const std::string& role) {
  auto g = GroupOf(group);
  if (!g.ok()) return g.error();
  auto uid = UserIdOf(user);
  if (!uid.ok()) return uid.error();
  return api_->UpdateGroup(g->group_id, std::nullopt, {{*uid, role}});
}

Result<Group> Client::Rename(const std::string& group, const std::string& name) {
  auto g = GroupOf(group);
  if (!g.ok()) return g.error();
  auto updated = api_->UpdateGroup(g->group_id, name);
  if (updated.ok()) RememberGroup(*updated);
  return updated;
}

Result<Group> Client::Leave(const std::string& group) {
  auto g = GroupOf(group);
  if (!g.ok()) return g.error();
  return api_->RemoveMember(g->group_id, api_->user_id());
}

Result<Group> Client::ShowGroup(const std::string& group) { return GroupOf(group); }

Result<std::vector<LocalConversation>> Client::ListGroups() {
  PARLEY_TRY(RequireSession());
  auto convs = api_->ListConversations();
  if (!convs.ok()) return convs.error();
  std::vector<LocalConversation> out;
  for (const auto& c : *convs) {
    if (c.type != "group" || !c.member) continue;
    LocalConversation lc;
    lc.conversation_id = c.conversation_id;
    lc.type = c.type;
    lc.group_id = c.group_id;
    lc.title = c.title;
    lc.last_seq = c.last_seq;
    lc.read_seq = c.read_seq;
    lc.unread_count = c.unread_count;
    lc.last_activity_at = c.last_activity_at;
    out.push_back(lc);
  }
  return out;
}

Result<std::vector<Device>> Client::ListDevices() {
  PARLEY_TRY(RequireSession());
  return api_->ListDevices();
}

Result<Unit> Client::RevokeDevice(const std::string& device_id) {
  PARLEY_TRY(RequireSession());
  auto id = NormalizeUuid(device_id);
  if (!id) return MakeError(ErrorCode::kInvalidArgument, "not a device id: " + device_id);
  return api_->RevokeDevice(*id);
}

Result<SafetyNumberInfo> Client::SafetyNumber(const std::string& user) {
  auto uid = UserIdOf(user);
  if (!uid.ok()) return uid.error();
  SafetyNumberInfo info;
  Events ev;
  {
    std::lock_guard lock(engine_mu_);
    auto engine = EngineLocked();
    if (!engine.ok()) return engine.error();
    auto n = (*engine)->SafetyNumber(*uid);
    if (!n.ok()) return n.error();
    info.number = *n;
    CollectKeyChanges(ev);
  }
  Dispatch(ev);
  auto marker = store_->GetMeta("key_changed:" + *uid);
  info.key_changed = marker.ok() && *marker && **marker == "1";
  return info;
}

Result<Unit> Client::MarkVerified(const std::string& user) {
  auto uid = UserIdOf(user);
  if (!uid.ok()) return uid.error();
  return store_->SetMeta("key_changed:" + *uid, "0");
}

Result<Unit> Client::SetStatus(const std::string& status, const std::string& text) {
  PARLEY_TRY(RequireSession());
  return api_->UpdateStatus(status, text);
}

Result<std::vector<PresenceStatus>> Client::GetStatus(const std::vector<std::string>& users) {
  PARLEY_TRY(RequireSession());
  std::vector<std::string> ids;
  for (const auto& u : users) {
    auto id = UserIdOf(u);
    if (!id.ok()) return id.error();
    ids.push_back(*id);
  }
  if (ids.empty()) ids.push_back(api_->user_id());
  return api_->GetStatus(ids);
}

}  // namespace parley::sdk
