// AuditStore: the append-only record of security-relevant actions. Threading and errors as in
// auth_store.h.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "storage/model.h"

namespace parley::storage {

struct AuditEntry {
  int64_t id = 0;  // assigned on insert, increasing
  int64_t at = 0;
  std::string actor_user_id;  // empty when anonymous (a failed login)
  std::string actor_device_id;
  std::string action;  // e.g. login.failure, group.member_removed, authz.denied
  std::string target;  // what it was done to: a user, group, device or path
  std::string address;  // the client's address, when known
  std::string details;  // a JSON object, as text
};

struct AuditQuery {
  int64_t before_id = 0;  // 0 = from the newest
  std::string action;     // exact match; empty = any
  std::string actor_user_id;
  int limit = 50;
};

class AuditStore {
 public:
  virtual ~AuditStore() = default;
  virtual void RecordAudit(AuditEntry entry, Done<int64_t> done) = 0;
  // Newest first.
  virtual Result<std::vector<AuditEntry>> ListAudit(const AuditQuery& q) = 0;
};

}  // namespace parley::storage
