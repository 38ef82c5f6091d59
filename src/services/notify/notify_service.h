// Notification service: per-device push endpoints (register-push), admin/service notifications
// (send-notification, stored and listed), and the worker on notification-events that POSTs to
// the endpoint of a device that is offline when something arrives for it. Pushes never carry
// message content: conversation id and unread count only.
//
// Flow: MESSAGE_SENT → for each recipient device with an endpoint and no open WebSocket →
// PUSH_REQUESTED on notification-events → PushSender (own thread, retries, coalescing).
// Thread-safe: the endpoint cache is guarded by mu_.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <mutex>
#include <unordered_map>

#include "services/context.h"
#include "services/notify/push_sender.h"
#include "storage/notify_store.h"
#include "transport/router.h"

namespace parley::services {

inline constexpr std::string_view kPushRequested = "PUSH_REQUESTED";
inline constexpr std::string_view kNotificationCreated = "NOTIFICATION_CREATED";

class NotifyService {
 public:
  // `device_online` says whether a device has an open WebSocket on this node.
  NotifyService(Context& ctx, storage::NotifyStore& store, PushOptions push,
                std::function<bool(const std::string& user_id, const std::string& device_id)>
                    device_online);
  // Loads the endpoints, subscribes to the bus, starts the sender.
  Status Start();
  void Stop();
  // A revoked device gets no more pushes (its endpoint is forgotten here; the store stops
  // listing it). Thread-safe.
  void ForgetDevice(const std::string& device_id);
  void Register(transport::Router& router);

 private:
  using Awaitable = boost::asio::awaitable<transport::HttpResponse>;
  Awaitable RegisterPush(transport::HttpRequest& req);
  Awaitable SendNotification(transport::HttpRequest& req);
  Awaitable List(transport::HttpRequest& req);
  void OnMessage(const events::EventPtr& e);
  void OnNotificationEvent(const events::EventPtr& e);

  Context& ctx_;
  storage::NotifyStore& store_;
  PushSender sender_;
  std::function<bool(const std::string&, const std::string&)> device_online_;
  std::mutex mu_;
  // user → (device → endpoint); guarded by mu_
  std::unordered_map<std::string, std::unordered_map<std::string, std::string>> endpoints_;
};

}  // namespace parley::services
