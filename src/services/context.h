// What every service module is built from: config, stores, the event bus, the blocking pool,
// metrics, rate limits, the delivery router and the outbox relay. Owned by the composition root (src/exe);
// services hold only references.
#pragma once

#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>

#include "common/config.h"
#include "common/metrics.h"
#include "events/event_bus.h"
#include "storage/auth_store.h"
#include "storage/cluster_state.h"
#include "storage/key_store.h"
#include "storage/message_store.h"

namespace parley::services {

class DeliveryRouter;  // services/delivery/delivery_router.h
class OutboxRelay;     // services/delivery/outbox_relay.h

// The rate limiters of the actions the contract names (login, signup, send, upload, claim,
// typing, send-to-device). Each is a SharedRateLimiter made by `make` (name, per minute, burst):
// in memory in the embedded profile, in Redis in the scale-out one, so a limit holds across
// nodes.
struct RateLimits {
  using MakeLimiter = std::function<std::unique_ptr<storage::SharedRateLimiter>(
      const std::string& name, double per_minute, double burst)>;
  RateLimits(const Config& c, const MakeLimiter& make)
      : signup_per_address(make("signup_addr", Per(c.rate_signup_per_min), Per(c.rate_signup_per_min))),
        login_per_address(make("login_addr", Per(c.rate_login_per_min), Per(c.rate_login_per_min))),
        login_per_username(make("login_user", Per(c.rate_login_per_min), Per(c.rate_login_per_min))),
        send_per_user(make("send_user", Per(c.rate_send_per_min),
                           static_cast<double>(std::min<int64_t>(200, c.rate_send_per_min)))),
        upload_per_user(make("upload_user", Per(c.rate_upload_per_min), Per(c.rate_upload_per_min))),
        claim_per_pair(make("claim_pair", Per(c.rate_claim_per_min), Per(c.rate_claim_per_min))),
        typing_per_user_conversation(make("typing_user_conv", Per(c.rate_typing_per_min),
                                          Burst(3, c.rate_typing_per_min))),
        to_device_per_user(make("send_to_device_user", Per(c.rate_to_device_per_min),
                                Burst(1000, c.rate_to_device_per_min))),
        to_device_bytes_per_user(make("send_to_device_bytes", Per(c.rate_to_device_bytes_per_min),
                                      Per(c.rate_to_device_bytes_per_min))) {}
  std::unique_ptr<storage::SharedRateLimiter> signup_per_address;
  std::unique_ptr<storage::SharedRateLimiter> login_per_address;
  std::unique_ptr<storage::SharedRateLimiter> login_per_username;
  std::unique_ptr<storage::SharedRateLimiter> send_per_user;
  std::unique_ptr<storage::SharedRateLimiter> upload_per_user;
  // Key "claimer user id:target user id".
  std::unique_ptr<storage::SharedRateLimiter> claim_per_pair;
  // Key "user id:conversation id".
  std::unique_ptr<storage::SharedRateLimiter> typing_per_user_conversation;
  // Tokens: target devices, resp. body bytes, of a send-to-device request.
  std::unique_ptr<storage::SharedRateLimiter> to_device_per_user;
  std::unique_ptr<storage::SharedRateLimiter> to_device_bytes_per_user;

 private:
  static double Per(int64_t v) { return static_cast<double>(v); }
  static double Burst(int64_t most, int64_t per_min) {
    return static_cast<double>(std::min(most, per_min));
  }
};

struct Context {
  const Config& config;
  storage::AuthStore& auth_store;
  storage::KeyStore& key_store;
  storage::MessageStore& message_store;
  events::EventBus& bus;
  boost::asio::thread_pool& blocking;  // storage reads, password hashing: never an I/O thread
  Metrics& metrics;
  RateLimits& limits;
  DeliveryRouter& deliveries;  // how live events reach the gateways holding their recipients
  // The relay of the store's transactional outbox (PostgreSQL with Kafka), else nullptr: what
  // publishes a MESSAGE_SENT passes it to PublishMessageSent.
  OutboxRelay* outbox = nullptr;
};

}  // namespace parley::services
