// Operations endpoints: /healthz (alive), /readyz (stores answer, else 503), /metrics (Prometheus).
#pragma once

#include "services/context.h"
#include "transport/router.h"

namespace parley::services {

class OpsService {
 public:
  explicit OpsService(Context& ctx) : ctx_(ctx) {}
  void Register(transport::Router& router);
  void SetDraining() { draining_.store(true); }

 private:
  Context& ctx_;
  std::atomic<bool> draining_{false};
};

}  // namespace parley::services
