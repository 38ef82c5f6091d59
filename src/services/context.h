// What every service module is built from: config, stores, the event bus, the blocking pool and
// metrics. Owned by the composition root (src/exe); services hold only references.
#pragma once

#include <boost/asio/thread_pool.hpp>

#include <algorithm>

#include "common/config.h"
#include "common/metrics.h"
#include "common/rate_limiter.h"
#include "events/event_bus.h"
#include "storage/auth_store.h"
#include "storage/key_store.h"
#include "storage/message_store.h"

namespace parley::services {

// The rate limiters of the actions the contract names (login, signup, send, upload).
struct RateLimits {
  explicit RateLimits(const Config& c)
      : signup_per_address(static_cast<double>(c.rate_signup_per_min), static_cast<double>(c.rate_signup_per_min)),
        login_per_address(static_cast<double>(c.rate_login_per_min), static_cast<double>(c.rate_login_per_min)),
        login_per_username(static_cast<double>(c.rate_login_per_min), static_cast<double>(c.rate_login_per_min)),
        send_per_user(static_cast<double>(c.rate_send_per_min),
                      static_cast<double>(std::min<int64_t>(200, c.rate_send_per_min))),
        upload_per_user(static_cast<double>(c.rate_upload_per_min), static_cast<double>(c.rate_upload_per_min)) {}
  RateLimiter signup_per_address;
  RateLimiter login_per_address;
  RateLimiter login_per_username;
  RateLimiter send_per_user;
  RateLimiter upload_per_user;
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
};

}  // namespace parley::services
