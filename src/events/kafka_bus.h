// KafkaBus: the scale-out EventBus on Apache Kafka (librdkafka). Every parleyd node runs one,
// all pointed at the same brokers; the topics exist beforehand (deploy/kafka/kafka.sh creates
// the seed's; brokers run with auto.create.topics.enable=false).
//
// Publish: the event's JSON envelope (Serialize) as the record value, event.key as the record
// key, so one key's events share a partition and keep their order. The producer is idempotent
// (acks=all), so its own retries never duplicate or reorder a record. Publish only queues the
// record (never blocks on I/O); a background thread serves delivery reports, which settle the
// record's Confirmation, if it has one. A record that cannot be queued or delivered is counted
// in publish_failures() and logged (topic, type, reason; never the payload).
//
// PublishTo(T, event, nodes): the same record on "T.<node>" for each node named. A kAddressed
// subscription to T reads "T.<node_id>", which Start() creates if missing (one partition, so one
// key's records keep their order; retention addressed_retention_ms: live events only).
//
// Subscribe: Delivery::kEveryNode and kAddressed subscriptions share this node's consumer group
// "<group_prefix>-node-<node_id>"; a kOneNode subscription to topic T joins the group
// "<group_prefix>-shared-T" shared by all nodes, so one node handles each record. Each group has
// a consumer thread: handlers of one partition run in record order on it. Records are decoded by
// FromJson; malformed ones are logged (no payload) and skipped, an event_id seen recently by the
// same consumer is skipped, and a record's offset is committed only after its handlers ran.
//
// Thread safety: Publish and the counters from any thread; Subscribe, Start and Stop from one.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/histogram.h"
#include "common/result.h"
#include "events/event_bus.h"
#include "events/kafka_client.h"
#include "events/kafka_consumer.h"

namespace parley::events {

struct KafkaBusOptions {
  std::string brokers;                  // "host:port[,host:port…]"
  std::string node_id;                  // unique per node; names its kEveryNode group
  std::string group_prefix = "parley";  // consumer group names start with it
  int start_timeout_ms = 30000;  // Start(): brokers reachable, topics present, groups joined
  int flush_timeout_ms = 5000;   // Stop(): wait for queued records at most this long
  size_t dedup_capacity = 16384; // event ids each consumer remembers to drop redeliveries
  int64_t addressed_retention_ms = 3600000;  // of the per-node topics Start() creates
};

// The Kafka topic of `topic`'s events addressed to `node_id`: "<topic>.<node_id>".
std::string AddressedTopic(std::string_view topic, std::string_view node_id);

class KafkaBus final : public EventBus {
 public:
  explicit KafkaBus(KafkaBusOptions options);
  ~KafkaBus() override;  // Stop()
  KafkaBus(const KafkaBus&) = delete;
  KafkaBus& operator=(const KafkaBus&) = delete;

  // Queues `event` for `topic`. Before Start() or after Stop() the event is dropped and counted
  // as a failure (the composition root starts the bus before the services).
  void Publish(std::string_view topic, EventPtr event, ConfirmationPtr confirm = nullptr) override;
  // Before Start() only (a later call is a programmer error: logged and ignored).
  void Subscribe(std::string_view topic, Handler handler,
                 Delivery delivery = Delivery::kEveryNode) override;
  // Queues one record per node on AddressedTopic(topic, node). A node whose topic does not exist
  // (it never ran a version that reads one) makes a delivery failure: callers address only nodes
  // that said they read theirs (ConnectionRegistry::DeliveryNodes).
  void PublishTo(std::string_view topic, EventPtr event, const std::vector<std::string>& node_ids,
                 ConfirmationPtr confirm = nullptr) override;
  bool AddressesNodes() const override { return true; }

  // Connects the producer, creates this node's addressed topics if missing, checks that the
  // brokers answer and that every subscribed topic exists (waiting for one created moments ago),
  // then joins the consumer groups and waits for their
  // first assignment, all within start_timeout_ms. Errors: kInvalidArgument (options),
  // kUnavailable (brokers unreachable, topic missing, no assignment in time). On error nothing
  // keeps running. Once only.
  Status Start();
  // Stops the consumers (committing what was handled), then flushes the producer for at most
  // flush_timeout_ms; records still queued then are counted as failures. Idempotent.
  void Stop();

  uint64_t published() const { return published_.load(std::memory_order_relaxed); }  // queued
  uint64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }   // acked
  uint64_t publish_failures() const { return failures_.load(std::memory_order_relaxed); }
  uint64_t handled() const { return stats_.handled.load(std::memory_order_relaxed); }
  uint64_t malformed() const { return stats_.malformed.load(std::memory_order_relaxed); }
  uint64_t duplicates() const { return stats_.duplicates.load(std::memory_order_relaxed); }
  // Publish to the broker's acknowledgement (delivery report), and producer to consumer.
  const Histogram& publish_seconds() const { return publish_seconds_; }
  const Histogram& transit_seconds() const { return stats_.transit_seconds; }

 private:
  struct DeliveryTag;
  struct Subscription {
    std::string topic;  // the Kafka topic (AddressedTopic() of the one named, for kAddressed)
    Handler handler;
    Delivery delivery;
  };

  Status StartProducer();
  Status CreateAddressedTopics(int64_t deadline_ms);
  Status CheckTopics(int64_t deadline_ms);
  // Queues `value` (the serialized `event`) on the Kafka topic `name`; counts and logs failures.
  void Produce(const std::string& name, const Event& event, const std::string& value,
               const ConfirmationPtr& confirm);
  Status StartConsumers(int64_t deadline_ms);
  void OnDelivery(const rd_kafka_message_t& m);
  static void DeliveryCb(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);

  // Constant after construction.
  const KafkaBusOptions options_;
  // Written before Start() only.
  std::vector<Subscription> subscriptions_;
  bool started_ = false;
  // The producer: created by Start(), destroyed by Stop() under the exclusive lock; Publish
  // holds the shared lock while it queues.
  mutable std::shared_mutex producer_mu_;
  detail::KafkaHandle producer_;  // guarded by producer_mu_
  std::thread poll_thread_;
  std::atomic<bool> stop_poll_{false};
  std::vector<std::unique_ptr<detail::KafkaConsumer>> consumers_;

  std::atomic<uint64_t> published_{0};
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> failures_{0};
  detail::ConsumerStats stats_;
  Histogram publish_seconds_;
};

}  // namespace parley::events
