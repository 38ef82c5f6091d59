// Audit service: stores every audit-events record (AuditStore) and writes it as a log line too
// (msg "audit", so shipped logs carry it), turns group and group-member events into audit
// records, records authorization denials seen by the router, and serves GET /v1/admin/audit and
// GET /v1/admin/logs (the shipped logs of every node, when log shipping is on) to admins.
// Thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "services/audit/audit_event.h"
#include "services/context.h"
#include "storage/audit_store.h"
#include "storage/log_search.h"
#include "transport/router.h"

namespace parley::services {

class AuditService {
 public:
  AuditService(Context& ctx, storage::AuditStore& store) : ctx_(ctx), store_(store) {}
  // Subscribes to the bus. Call once before serving.
  void Start();
  // Where GET /v1/admin/logs searches (nullptr, the default: log shipping is off and it answers
  // 404). Call before serving.
  void SetLogSearch(storage::LogSearch* logs) { logs_ = logs; }
  void Register(transport::Router& router);
  // For the router: records 403 answers to authenticated requests as authz.denied.
  void ObserveResponse(const transport::HttpRequest& req, int status);

 private:
  boost::asio::awaitable<transport::HttpResponse> List(transport::HttpRequest& req);
  boost::asio::awaitable<transport::HttpResponse> Logs(transport::HttpRequest& req);  // audit_logs.cc

  Context& ctx_;
  storage::AuditStore& store_;
  storage::LogSearch* logs_ = nullptr;
};

// Is this user an admin? kNotFound if no such user. Blocking: call on the pool.
Result<bool> IsAdmin(storage::AuthStore& auth, const std::string& user_id);

}  // namespace parley::services
