// Audit service: stores every audit-events record (AuditStore), turns group and group-member
// events into audit records, records authorization denials seen by the router, and serves
// GET /v1/admin/audit to admins. Thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "services/audit/audit_event.h"
#include "services/context.h"
#include "storage/audit_store.h"
#include "transport/router.h"

namespace parley::services {

class AuditService {
 public:
  AuditService(Context& ctx, storage::AuditStore& store) : ctx_(ctx), store_(store) {}
  // Subscribes to the bus. Call once before serving.
  void Start();
  void Register(transport::Router& router);
  // For the router: records 403 answers to authenticated requests as authz.denied.
  void ObserveResponse(const transport::HttpRequest& req, int status);

 private:
  boost::asio::awaitable<transport::HttpResponse> List(transport::HttpRequest& req);

  Context& ctx_;
  storage::AuditStore& store_;
};

// Is this user an admin? kNotFound if no such user. Blocking: call on the pool.
Result<bool> IsAdmin(storage::AuthStore& auth, const std::string& user_id);

}  // namespace parley::services
