#include "storage/sqlite/hot_state.h"

namespace parley::storage::sqlite {

HotState::Member* HotState::Conversation::FindMember(std::string_view user_id) {
  for (auto& m : members)
    if (m.user_id == user_id) return &m;
  return nullptr;
}

Result<HotState::Conversation*> HotState::Find(SqliteConn& c,
                                               const std::string& conversation_id) {
  auto it = conversations_.find(conversation_id);
  if (it != conversations_.end()) return it->second.get();
  auto conv = std::make_unique<Conversation>();
  conv->id = conversation_id;
  {
    Stmt s = c.Prepare(
        "SELECT last_seq, last_message_at FROM conversations WHERE conversation_id = ?");
    s.Bind(1, conversation_id);
    auto row = s.Step();
    if (!row.ok()) return row.error();
    if (!*row) return static_cast<Conversation*>(nullptr);
    conv->last_seq = s.Int(0);
    conv->last_message_at = s.Int(1);
  }
  {
    Stmt s = c.Prepare(
        "SELECT user_id, joined_seq, delivered_seq, read_seq FROM conversation_members "
        "WHERE conversation_id = ? AND left_seq IS NULL");
    s.Bind(1, conversation_id);
    while (true) {
      auto row = s.Step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      conv->members.push_back({s.Text(0), s.Int(1), s.Int(2), s.Int(3)});
      conv->member_ids.push_back(conv->members.back().user_id);
    }
  }
  members_held_ += conv->members.size();
  return conversations_.emplace(conversation_id, std::move(conv)).first->second.get();
}

Result<int64_t*> HotState::Cursor(SqliteConn& c, const std::string& device_id,
                                  const std::string& conversation_id) {
  std::string key;
  key.reserve(device_id.size() + 1 + conversation_id.size());
  key.append(device_id).push_back('\n');
  key.append(conversation_id);
  auto it = cursors_.find(key);
  if (it != cursors_.end()) return &it->second;
  Stmt s = c.Prepare(
      "SELECT delivered_seq FROM device_cursors WHERE device_id = ? AND conversation_id = ?");
  s.Bind(1, device_id).Bind(2, conversation_id);
  auto row = s.Step();
  if (!row.ok()) return row.error();
  int64_t cursor = *row ? s.Int(0) : -1;
  return &cursors_.emplace(std::move(key), cursor).first->second;
}

void HotState::Touch(Conversation* conv, int64_t seq, int64_t at) {
  conv->last_seq = seq;
  conv->last_message_at = at;
  if (conv->dirty) return;
  conv->dirty = true;
  dirty_.push_back(conv);
}

Status HotState::Flush(SqliteConn& c) {
  for (Conversation* conv : dirty_) {
    Stmt s = c.Prepare(
        "UPDATE conversations SET last_seq = ?, last_message_at = ? WHERE conversation_id = ?");
    auto r = s.Bind(1, conv->last_seq).Bind(2, conv->last_message_at).Bind(3, conv->id).Run();
    if (!r.ok()) return r.error();
    conv->dirty = false;
  }
  dirty_.clear();
  return OkStatus();
}

void HotState::Clear() {
  if (conversations_.empty() && cursors_.empty()) return;
  conversations_.clear();
  cursors_.clear();
  dirty_.clear();
  members_held_ = 0;
}

void HotState::Trim() {
  if (conversations_.size() > kMaxConversations || members_held_ > kMaxMembers ||
      cursors_.size() > kMaxCursors)
    Clear();
}

}  // namespace parley::storage::sqlite
