// OutboxRelay: every message committed is announced at least once (storage/message_outbox.h).
//
// - A MESSAGE_SENT published after an append carries a Confirmation (Track); when the bus
//   acknowledged all of its records the message's outbox entry is removed, in batches, on this
//   relay's thread.
// - Every kScanEvery the relay takes the entries older than kRepublishAfter (their publish was
//   lost: a crash between commit and publish, a full producer queue, a COMMIT whose answer was
//   lost, a node that died with events in its queue) and publishes their MESSAGE_SENT again,
//   with the message read back from the store and its conversation's current members. Every
//   node runs one; an entry is taken by one node at a time (ClaimUnannounced).
// Repeats are harmless: the event's id is the message_id (consumers drop it), and a WebSocket
// session drops a seq it has sent.
//
// Thread-safe. Start once, after the bus; Stop removes what is announced and joins the thread:
// call it after the bus stopped (its flush acknowledges the last events) and before the store
// closes.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "events/event_bus.h"
#include "services/delivery/delivery_router.h"
#include "storage/message_outbox.h"
#include "storage/message_store.h"

namespace parley::services {

inline constexpr auto kRepublishAfter = std::chrono::milliseconds(5000);
inline constexpr auto kScanEvery = std::chrono::milliseconds(1000);

class OutboxRelay {
 public:
  OutboxRelay(DeliveryRouter& deliveries, storage::MessageStore& store,
              storage::MessageOutbox& outbox, Metrics& metrics);
  ~OutboxRelay();  // Stop()

  void Start();
  // Removes what is announced and stops the thread. Idempotent.
  void Stop();

  // A Confirmation for the MESSAGE_SENT of this message: once the bus holds it, its outbox entry
  // goes. Publish with it, then Release() it. Thread-safe, quick.
  events::ConfirmationPtr Track(const storage::Message& m);

 private:
  void Run();
  void Flush();  // removes the entries of announced messages
  void Republish();

  DeliveryRouter& deliveries_;
  storage::MessageStore& store_;
  storage::MessageOutbox& outbox_;
  std::atomic<uint64_t>& republished_;
  std::atomic<uint64_t>& unconfirmed_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<storage::OutboxEntry> announced_;  // guarded by mu_: to remove
  bool stopping_ = false;                        // guarded by mu_
  std::thread thread_;
};

}  // namespace parley::services
