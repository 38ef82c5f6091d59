#include "events/inproc_bus.h"

#include <mutex>

namespace parley::events {

void InProcessBus::Publish(std::string_view topic, EventPtr event, ConfirmationPtr /*confirm*/) {
  published_.fetch_add(1, std::memory_order_relaxed);
  std::shared_lock lock(mu_);
  auto it = handlers_.find(topic);
  if (it == handlers_.end()) return;
  for (const auto& h : it->second) h(topic, event);
}

void InProcessBus::Subscribe(std::string_view topic, Handler handler, Delivery /*delivery*/) {
  std::unique_lock lock(mu_);
  handlers_[std::string(topic)].push_back(std::move(handler));
}

bool InProcessBus::HasAudience(std::string_view topic) const {
  std::shared_lock lock(mu_);
  auto it = handlers_.find(topic);
  return it != handlers_.end() && !it->second.empty();
}

uint64_t InProcessBus::published() const { return published_.load(std::memory_order_relaxed); }

}  // namespace parley::events
