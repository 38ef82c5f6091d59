// InProcessBus: the embedded EventBus. Publish calls every subscriber of the topic synchronously,
// in subscription order, on the publisher's thread.
#pragma once

#include <atomic>
#include <map>
#include <shared_mutex>
#include <string>
#include <vector>

#include "events/event_bus.h"

namespace parley::events {

class InProcessBus final : public EventBus {
 public:
  void Publish(std::string_view topic, EventPtr event, ConfirmationPtr confirm = nullptr) override;
  // Every subscriber of the topic, whatever its delivery scope: this bus is one node.
  void Subscribe(std::string_view topic, Handler handler,
                 Delivery delivery = Delivery::kEveryNode) override;
  bool HasAudience(std::string_view topic) const override;
  uint64_t published() const;

 private:
  mutable std::shared_mutex mu_;
  std::map<std::string, std::vector<Handler>, std::less<>> handlers_;  // guarded by mu_
  std::atomic<uint64_t> published_{0};
};

}  // namespace parley::events
