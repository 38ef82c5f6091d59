// Operations endpoints: /healthz (alive), /readyz (the message store and every added check
// answer, else 503 naming the first that does not), /metrics (Prometheus).
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "services/context.h"
#include "transport/router.h"

namespace parley::services {

class OpsService {
 public:
  // A readiness check: blocks (it runs on the blocking pool); ok when its dependency answers.
  using Check = std::function<Status()>;

  explicit OpsService(Context& ctx) : ctx_(ctx) {}
  // Adds a dependency /readyz asks after the message store (e.g. "media store", "search index").
  // Call before Register.
  void AddCheck(std::string name, Check check) { checks_.emplace_back(std::move(name), std::move(check)); }
  void Register(transport::Router& router);
  void SetDraining() { draining_.store(true); }

 private:
  Status Ready();

  Context& ctx_;
  std::vector<std::pair<std::string, Check>> checks_;
  std::atomic<bool> draining_{false};
};

}  // namespace parley::services
