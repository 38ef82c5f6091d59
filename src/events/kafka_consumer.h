// KafkaConsumer: one consumer group member of KafkaBus, on a thread of its own. It decodes each
// record (FromJson), drops the malformed and the recently seen (by event_id), calls the topic's
// handlers in record order, then stores the offset for the next commit: a record is committed
// only after its handlers ran (at least once). detail: not part of any contract.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <map>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/histogram.h"
#include "common/result.h"
#include "events/event_bus.h"
#include "events/kafka_client.h"

namespace parley::events::detail {

// Counters shared by a bus and its consumers.
struct ConsumerStats {
  std::atomic<uint64_t> handled{0};     // records whose handlers ran
  std::atomic<uint64_t> malformed{0};   // records FromJson refused (skipped)
  std::atomic<uint64_t> duplicates{0};  // records whose event_id was seen recently (skipped)
  // A record's producer timestamp (CreateTime, milliseconds of the wall clock) to its handlers
  // running here: queueing in the producer, the broker and the fetch together.
  Histogram transit_seconds;
};

// The event ids seen most recently, at most `capacity` of them (least recently seen leave first).
class RecentIds {
 public:
  explicit RecentIds(size_t capacity) : capacity_(capacity) {}
  // True if `id` was seen within the last `capacity` ids; records it either way.
  bool SeenBefore(const std::string& id);

 private:
  size_t capacity_;
  std::list<std::string> order_;  // most recent first
  std::unordered_map<std::string, std::list<std::string>::iterator> index_;
};

struct ConsumerOptions {
  std::string brokers;
  std::string group_id;
  std::string client_id;
  // kEveryNode: a partition this group never committed starts at its end (live events only),
  // fixed when it is assigned so nothing published after Start() returns is missed.
  // kOneNode: it starts at the beginning.
  Delivery delivery = Delivery::kEveryNode;
  std::map<std::string, std::vector<Handler>, std::less<>> handlers;  // by topic
  size_t dedup_capacity = 16384;
};

class KafkaConsumer {
 public:
  KafkaConsumer(ConsumerOptions options, ConsumerStats* stats);
  ~KafkaConsumer();  // Stop()
  KafkaConsumer(const KafkaConsumer&) = delete;
  KafkaConsumer& operator=(const KafkaConsumer&) = delete;

  // Creates the client, subscribes and starts the thread. The group assignment follows later.
  Status Start();
  // True once the group gave this member its first assignment (possibly empty).
  bool assigned() const { return assigned_.load(std::memory_order_acquire); }
  // Leaves the group (committing what was handled) and joins the thread. Idempotent.
  void Stop();

 private:
  void Run();
  void Handle(const rd_kafka_message_t& m);
  void StoreOffset(const rd_kafka_message_t& m);
  void OnRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts);
  void StartLiveAtEnd(rd_kafka_topic_partition_list_t* parts);
  rd_kafka_resp_err_t QueryEnd(const char* topic, int32_t partition, int64_t* end);
  static void RebalanceCb(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* parts, void* opaque);

  // Constant after construction.
  const ConsumerOptions options_;
  ConsumerStats* const stats_;
  // Set by Start(); used by the consumer thread only until Stop() joins it.
  KafkaHandle rk_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> assigned_{false};
  RecentIds recent_;  // consumer thread only
};

}  // namespace parley::events::detail
