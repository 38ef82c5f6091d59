#include "services/gateway/hub.h"

#include <mutex>

#include "services/gateway/ws_session.h"

namespace parley::services {

void Hub::Add(const std::shared_ptr<WsSession>& s) {
  std::unique_lock lock(mu_);
  by_user_[s->principal().user_id].push_back(s);
  ++count_;
}

void Hub::Remove(const WsSession* s) {
  std::unique_lock lock(mu_);
  auto it = by_user_.find(s->principal().user_id);
  if (it == by_user_.end()) return;
  auto& v = it->second;
  for (size_t i = 0; i < v.size(); ++i) {
    auto p = v[i].lock();
    if (!p || p.get() == s) {
      v[i] = v.back();
      v.pop_back();
      --count_;
      break;
    }
  }
  if (v.empty()) by_user_.erase(it);
}

std::vector<std::shared_ptr<WsSession>> Hub::ForUser(const std::string& user_id) const {
  std::vector<std::shared_ptr<WsSession>> out;
  std::shared_lock lock(mu_);
  auto it = by_user_.find(user_id);
  if (it == by_user_.end()) return out;
  for (const auto& w : it->second)
    if (auto p = w.lock()) out.push_back(std::move(p));
  return out;
}

std::vector<std::shared_ptr<WsSession>> Hub::ForDevice(const std::string& device_id) const {
  std::vector<std::shared_ptr<WsSession>> out;
  std::shared_lock lock(mu_);
  for (const auto& [user, sessions] : by_user_)
    for (const auto& w : sessions)
      if (auto p = w.lock(); p && p->principal().device_id == device_id) out.push_back(std::move(p));
  return out;
}

std::vector<std::shared_ptr<WsSession>> Hub::All() const {
  std::vector<std::shared_ptr<WsSession>> out;
  std::shared_lock lock(mu_);
  for (const auto& [user, sessions] : by_user_)
    for (const auto& w : sessions)
      if (auto p = w.lock()) out.push_back(std::move(p));
  return out;
}

size_t Hub::size() const {
  std::shared_lock lock(mu_);
  return count_;
}

}  // namespace parley::services
