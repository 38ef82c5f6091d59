// NotifyStore: per-device push endpoints and stored notifications. Threading and errors as in
// auth_store.h.
#pragma once

#include <string>
#include <vector>

#include "storage/model.h"

namespace parley::storage {

struct PushEndpoint {
  std::string device_id;
  std::string user_id;
  std::string endpoint;  // an http(s) URL the device wants push POSTs at
};

struct Notification {
  int64_t id = 0;  // assigned on insert, increasing
  std::string user_id;
  std::string title;
  std::string body;
  std::string data;  // a JSON object, as text
  int64_t created_at = 0;
};

class NotifyStore {
 public:
  virtual ~NotifyStore() = default;
  // Sets (or, with an empty endpoint, removes) the device's push endpoint.
  virtual void SetPushEndpoint(PushEndpoint endpoint, Done<Unit> done) = 0;
  // Endpoints of active (not revoked) devices.
  virtual Result<std::vector<PushEndpoint>> ListPushEndpoints() = 0;
  virtual void AddNotification(Notification n, Done<int64_t> done) = 0;
  // The user's notifications, newest first, with id < before_id (0 = from the newest).
  virtual Result<std::vector<Notification>> ListNotifications(const std::string& user_id,
                                                              int64_t before_id, int limit) = 0;
};

}  // namespace parley::storage
