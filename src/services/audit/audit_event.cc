#include "services/audit/audit_event.h"

namespace parley::services {

void PublishAudit(events::EventBus& bus, AuditAction a) {
  std::string key = !a.actor_user_id.empty() ? a.actor_user_id : a.target;
  bus.Publish(events::topic::kAudit,
              events::MakeEvent(kAuditRecorded, std::move(key),
                                {{"action", std::move(a.action)},
                                 {"actor_user_id", std::move(a.actor_user_id)},
                                 {"actor_device_id", std::move(a.actor_device_id)},
                                 {"target", std::move(a.target)},
                                 {"address", std::move(a.address)},
                                 {"details", std::move(a.details)}}));
}

}  // namespace parley::services
