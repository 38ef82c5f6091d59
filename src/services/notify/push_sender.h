// PushSender: delivers push POSTs to device endpoints (http or https) from its own thread, with
// retries and exponential back-off, coalescing: a device with a push still queued gets the newest
// payload instead of a second push. Endpoints that answer 404 or 410 are reported as gone.
// Bounded: at most `max_queue` devices waiting; beyond that new pushes are dropped and counted.
// Only to allowed addresses: the endpoint's name is resolved and the connection goes only to the
// resolved addresses that are public or in `allow` (none: the push is refused and counted, never
// retried). No redirects are followed; each attempt is bounded in time, the answer in size.
// Thread-safe (Enqueue posts to the sender's thread).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/json/object.hpp>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/config.h"
#include "common/metrics.h"
#include "common/net_filter.h"

namespace parley::services {

struct PushOptions {
  int max_attempts = 4;
  int retry_base_ms = 1000;  // waits base, 4×base, 16×base, …
  int timeout_ms = 5000;     // per attempt: resolve, connect, TLS, write, read
  size_t max_queue = 10000;
  // Besides public addresses (common/net_filter.h), the only ones an endpoint may reach.
  std::vector<Network> allow;
  static PushOptions From(const Config& cfg);  // cfg validated
};

class PushSender {
 public:
  PushSender(PushOptions options, Metrics& metrics);
  ~PushSender();
  void Start();
  // Drops queued pushes and stops the thread.
  void Stop();
  void Enqueue(std::string device_id, std::string endpoint, boost::json::object payload);
  // Whether a push may go to `address`: public, or in the options' `allow`.
  bool MayReach(const boost::asio::ip::address& address) const {
    return DestinationAllowed(address, options_.allow);
  }
  // Called on the sender's thread when an endpoint answers 404/410.
  void OnGone(std::function<void(const std::string& device_id)> f) { on_gone_ = std::move(f); }

 private:
  struct Pending;
  boost::asio::awaitable<void> Deliver(std::shared_ptr<Pending> p);
  // The HTTP status of one POST, -1 if it never got an answer, kRefused if no address of the
  // endpoint may be reached.
  static constexpr int kRefused = -2;
  boost::asio::awaitable<int> PostOnce(const std::string& endpoint, const std::string& body);

  const PushOptions options_;
  boost::asio::io_context io_;
  boost::asio::ssl::context tls_;
  std::thread thread_;
  std::unordered_map<std::string, std::shared_ptr<Pending>> pending_;  // io_ thread only
  std::function<void(const std::string&)> on_gone_;
  std::atomic<uint64_t>& sent_;
  std::atomic<uint64_t>& failed_;
  std::atomic<uint64_t>& dropped_;
  std::atomic<uint64_t>& refused_;
};

}  // namespace parley::services
