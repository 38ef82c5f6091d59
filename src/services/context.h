// What every service module is built from: config, stores, the event bus, the blocking pool and
// metrics. Owned by the composition root (src/exe); services hold only references.
#pragma once

#include <boost/asio/thread_pool.hpp>

#include "common/config.h"
#include "common/metrics.h"
#include "events/event_bus.h"
#include "storage/auth_store.h"
#include "storage/key_store.h"
#include "storage/message_store.h"

namespace parley::services {

struct Context {
  const Config& config;
  storage::AuthStore& auth_store;
  storage::KeyStore& key_store;
  storage::MessageStore& message_store;
  events::EventBus& bus;
  boost::asio::thread_pool& blocking;  // storage reads, password hashing: never an I/O thread
  Metrics& metrics;
};

}  // namespace parley::services
