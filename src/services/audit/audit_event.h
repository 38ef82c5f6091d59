// Any module records a security-relevant action by publishing it on the audit-events topic; the
// audit service stores it. So no module depends on the audit service or its tables.
#pragma once

#include <boost/json/object.hpp>

#include <string>

#include "events/event_bus.h"

namespace parley::services {

inline constexpr std::string_view kAuditRecorded = "AUDIT_RECORDED";

struct AuditAction {
  std::string action;  // dotted: login.failure, device.revoked, group.member_removed, authz.denied
  std::string actor_user_id;  // empty if anonymous
  std::string actor_device_id;
  std::string target;
  std::string address;
  boost::json::object details;  // never secrets: no passwords, tokens, keys or message bodies
};

void PublishAudit(events::EventBus& bus, AuditAction a);

}  // namespace parley::services
