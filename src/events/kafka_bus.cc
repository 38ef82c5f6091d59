#include "events/kafka_bus.h"

#include <cassert>
#include <chrono>
#include <mutex>
#include <set>
#include <utility>

#include "common/log.h"

namespace parley::events {
namespace {

constexpr int kPollMs = 100;

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t SteadyMs() { return SteadyNs() / 1'000'000; }

struct MetadataDestroy {
  void operator()(const rd_kafka_metadata_t* md) const { rd_kafka_metadata_destroy(md); }
};

}  // namespace

// What a record carries to its delivery report: when it was produced, and whom to tell.
struct KafkaBus::DeliveryTag {
  int64_t start_ns;
  ConfirmationPtr confirm;
};

std::string AddressedTopic(std::string_view topic, std::string_view node_id) {
  std::string name(topic);
  name += '.';
  name += node_id;
  return name;
}

KafkaBus::KafkaBus(KafkaBusOptions options) : options_(std::move(options)) {}

KafkaBus::~KafkaBus() { Stop(); }

void KafkaBus::Subscribe(std::string_view topic, Handler handler, Delivery delivery) {
  if (started_) {
    assert(false && "KafkaBus::Subscribe after Start");
    LogError("event bus: subscribe after start ignored", {{"topic", topic}});
    return;
  }
  std::string name = delivery == Delivery::kAddressed ? AddressedTopic(topic, options_.node_id)
                                                      : std::string(topic);
  subscriptions_.push_back(Subscription{std::move(name), std::move(handler), delivery});
}

Status KafkaBus::Start() {
  if (started_) return MakeError(ErrorCode::kConflict, "event bus already started");
  if (options_.brokers.empty()) return MakeError(ErrorCode::kInvalidArgument, "kafka: no brokers");
  if (options_.node_id.empty()) return MakeError(ErrorCode::kInvalidArgument, "kafka: no node id");
  started_ = true;
  const int64_t deadline = SteadyMs() + options_.start_timeout_ms;
  Status s = StartProducer();
  if (s.ok()) s = CreateAddressedTopics(deadline);
  if (s.ok()) s = CheckTopics(deadline);
  if (s.ok()) s = StartConsumers(deadline);
  if (!s.ok()) {
    Stop();
    return s;
  }
  LogInfo("event bus: kafka started", {{"brokers", options_.brokers}, {"node_id", options_.node_id},
                                       {"consumers", consumers_.size()}});
  return OkStatus();
}

Status KafkaBus::StartProducer() {
  detail::KafkaConf conf = detail::NewConf();
  PARLEY_TRY(detail::SetConf(conf.get(), "bootstrap.servers", options_.brokers));
  PARLEY_TRY(detail::SetConf(conf.get(), "client.id",
                             options_.group_prefix + "-" + options_.node_id));
  // Idempotence: retries neither duplicate nor reorder a partition's records (implies acks=all).
  PARLEY_TRY(detail::SetConf(conf.get(), "enable.idempotence", "true"));
  PARLEY_TRY(detail::SetConf(conf.get(), "acks", "all"));
  // The Java client's partitioner, so a key maps to the same partition whoever produces it.
  PARLEY_TRY(detail::SetConf(conf.get(), "partitioner", "murmur2_random"));
  PARLEY_TRY(detail::SetConf(conf.get(), "linger.ms", "2"));
  PARLEY_TRY(detail::SetConf(conf.get(), "message.timeout.ms", "30000"));
  PARLEY_TRY(detail::SetConf(conf.get(), "queue.buffering.max.messages", "200000"));
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaBus::DeliveryCb);
  rd_kafka_conf_set_opaque(conf.get(), this);
  auto rk = detail::NewClient(RD_KAFKA_PRODUCER, std::move(conf));
  if (!rk.ok()) return rk.error();
  {
    std::unique_lock lock(producer_mu_);
    producer_ = std::move(*rk);
  }
  stop_poll_.store(false);
  poll_thread_ = std::thread([this] {
    // Serves delivery reports and error callbacks. producer_ is reset only after this joins.
    rd_kafka_t* rk = producer_.get();
    while (!stop_poll_.load(std::memory_order_acquire)) rd_kafka_poll(rk, kPollMs);
  });
  return OkStatus();
}

// A node's own topics: created here rather than by the deploy scripts, since nodes come and go.
// One that exists (an earlier run, or another node's race) is fine.
Status KafkaBus::CreateAddressedTopics(int64_t deadline_ms) {
  std::vector<rd_kafka_NewTopic_t*> topics;
  auto destroy = [&topics] {
    if (!topics.empty()) rd_kafka_NewTopic_destroy_array(topics.data(), topics.size());
  };
  char errstr[512];
  const std::string retention = std::to_string(options_.addressed_retention_ms);
  for (const auto& sub : subscriptions_) {
    if (sub.delivery != Delivery::kAddressed) continue;
    // One partition; the broker's default replication factor.
    rd_kafka_NewTopic_t* t =
        rd_kafka_NewTopic_new(sub.topic.c_str(), 1, -1, errstr, sizeof errstr);
    if (!t) {
      destroy();
      return MakeError(ErrorCode::kInvalidArgument, "kafka topic " + sub.topic + ": " + errstr);
    }
    topics.push_back(t);
    if (rd_kafka_NewTopic_set_config(t, "retention.ms", retention.c_str()) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      destroy();
      return MakeError(ErrorCode::kInvalidArgument, "kafka topic " + sub.topic + ": retention");
    }
  }
  if (topics.empty()) return OkStatus();
  rd_kafka_queue_t* queue = rd_kafka_queue_new(producer_.get());
  rd_kafka_CreateTopics(producer_.get(), topics.data(), topics.size(), nullptr, queue);
  destroy();
  int timeout_ms = static_cast<int>(std::max<int64_t>(deadline_ms - SteadyMs(), 1));
  rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, timeout_ms);
  Status st = OkStatus();
  if (!ev) {
    st = MakeError(ErrorCode::kUnavailable, "kafka: creating this node's topics timed out");
  } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    st = MakeError(ErrorCode::kUnavailable,
                   std::string("kafka: creating this node's topics: ") +
                       rd_kafka_event_error_string(ev));
  } else {
    size_t n = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    for (size_t i = 0; i < n && st.ok(); ++i) {
      rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        continue;
      }
      const char* why = rd_kafka_topic_result_error_string(results[i]);
      st = MakeError(ErrorCode::kUnavailable,
                     std::string("kafka: cannot create topic ") +
                         rd_kafka_topic_result_name(results[i]) + ": " +
                         (why ? why : rd_kafka_err2str(err)));
    }
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(queue);
  return st;
}

// A topic created moments ago may take a metadata refresh or two to show, so a missing one is
// looked for again until the deadline; unreachable brokers fail at once when it passes.
Status KafkaBus::CheckTopics(int64_t deadline_ms) {
  while (true) {
    int timeout_ms = static_cast<int>(std::max<int64_t>(deadline_ms - SteadyMs(), 1));
    const rd_kafka_metadata_t* raw = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(producer_.get(), 1, nullptr, &raw, timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return MakeError(ErrorCode::kUnavailable, "kafka brokers " + options_.brokers +
                                                    " unreachable: " + rd_kafka_err2str(err));
    }
    std::unique_ptr<const rd_kafka_metadata_t, MetadataDestroy> md(raw);
    std::set<std::string, std::less<>> present;
    for (int i = 0; i < md->topic_cnt; ++i) {
      if (md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topics[i].partition_cnt > 0) {
        present.insert(md->topics[i].topic);
      }
    }
    const std::string* missing = nullptr;
    for (const auto& sub : subscriptions_) {
      if (!present.contains(sub.topic)) {
        missing = &sub.topic;
        break;
      }
    }
    if (!missing) return OkStatus();
    if (SteadyMs() + 200 >= deadline_ms) {
      return MakeError(ErrorCode::kUnavailable,
                       "kafka topic " + *missing + " does not exist on " + options_.brokers +
                           " (deploy/kafka/kafka.sh start creates the seed's topics)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

Status KafkaBus::StartConsumers(int64_t deadline_ms) {
  // One group for this node's kEveryNode subscriptions, one per topic for kOneNode ones.
  std::map<std::string, detail::ConsumerOptions> groups;
  for (auto& sub : subscriptions_) {
    const bool one_node = sub.delivery == Delivery::kOneNode;
    std::string group = one_node ? options_.group_prefix + "-shared-" + sub.topic
                                 : options_.group_prefix + "-node-" + options_.node_id;
    detail::ConsumerOptions& o = groups[group];
    o.brokers = options_.brokers;
    o.group_id = group;
    o.client_id = options_.group_prefix + "-" + options_.node_id;
    // This node's addressed topic is read like a kEveryNode one: live events only.
    o.delivery = one_node ? Delivery::kOneNode : Delivery::kEveryNode;
    o.dedup_capacity = options_.dedup_capacity;
    o.handlers[sub.topic].push_back(sub.handler);
  }
  for (auto& [group, o] : groups) {
    consumers_.push_back(std::make_unique<detail::KafkaConsumer>(std::move(o), &stats_));
    PARLEY_TRY(consumers_.back()->Start());
  }
  for (const auto& c : consumers_) {
    while (!c->assigned()) {
      if (SteadyMs() >= deadline_ms) {
        return MakeError(ErrorCode::kUnavailable,
                         "kafka: consumer groups not joined within " +
                             std::to_string(options_.start_timeout_ms) + " ms");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  return OkStatus();
}

void KafkaBus::Stop() {
  // Consumers first: their handlers may still publish.
  for (auto& c : consumers_) c->Stop();
  consumers_.clear();
  if (!poll_thread_.joinable()) return;
  stop_poll_.store(true, std::memory_order_release);
  poll_thread_.join();
  std::unique_lock lock(producer_mu_);
  rd_kafka_resp_err_t err = rd_kafka_flush(producer_.get(), options_.flush_timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    int left = rd_kafka_outq_len(producer_.get());
    // Purge so destroy does not wait for them, and let their delivery reports count them.
    rd_kafka_resp_err_t p =
        rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    if (p != RD_KAFKA_RESP_ERR_NO_ERROR) {
      LogWarn("event bus: kafka purge", {{"error", rd_kafka_err2name(p)}});
    }
    rd_kafka_poll(producer_.get(), 0);
    LogError("event bus: events undelivered at stop", {{"count", left},
                                                       {"error", rd_kafka_err2name(err)}});
  }
  producer_.reset();
  LogInfo("event bus: kafka stopped",
          {{"published", published()}, {"failures", publish_failures()}});
}

void KafkaBus::Publish(std::string_view topic, EventPtr event, ConfirmationPtr confirm) {
  std::string value = Serialize(*event);
  Produce(std::string(topic), *event, value, confirm);
}

void KafkaBus::PublishTo(std::string_view topic, EventPtr event,
                         const std::vector<std::string>& node_ids, ConfirmationPtr confirm) {
  if (node_ids.empty()) return;
  std::string value = Serialize(*event);
  for (const auto& node : node_ids) Produce(AddressedTopic(topic, node), *event, value, confirm);
}

void KafkaBus::Produce(const std::string& topic, const Event& event, const std::string& value,
                       const ConfirmationPtr& confirm) {
  if (confirm) confirm->Expect();
  if (value.size() > kMaxEnvelopeBytes) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    LogError("event bus: event too large, dropped", {{"topic", topic}, {"type", event.type},
                                                     {"bytes", value.size()}});
    if (confirm) confirm->Settle(false);
    return;
  }
  std::shared_lock lock(producer_mu_);
  if (!producer_) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    LogWarn("event bus: publish while stopped, dropped", {{"topic", topic}, {"type", event.type}});
    if (confirm) confirm->Settle(false);
    return;
  }
  // F_COPY: librdkafka keeps its own copy, so `value` may go when this returns. No F_BLOCK: a
  // full queue is a failure now, not a stall of the caller. The tag comes back with the
  // delivery report (OnDelivery), which then owns it.
  auto tag = std::make_unique<DeliveryTag>(DeliveryTag{SteadyNs(), confirm});
  rd_kafka_resp_err_t err = rd_kafka_producev(
      producer_.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
      RD_KAFKA_V_KEY(event.key.data(), event.key.size()),
      // F_COPY: never written through, hence the const_cast.
      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(tag.get()), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    LogWarn("event bus: publish refused", {{"topic", topic}, {"type", event.type},
                                           {"error", rd_kafka_err2name(err)}});
    if (confirm) confirm->Settle(false);
    return;
  }
  tag.release();
  published_.fetch_add(1, std::memory_order_relaxed);
}

void KafkaBus::DeliveryCb(rd_kafka_t* /*rk*/, const rd_kafka_message_t* m, void* opaque) {
  static_cast<KafkaBus*>(opaque)->OnDelivery(*m);
}

void KafkaBus::OnDelivery(const rd_kafka_message_t& m) {
  // _private is the per-message opaque: Produce's tag.
  std::unique_ptr<DeliveryTag> tag(static_cast<DeliveryTag*>(m._private));
  const bool ok = m.err == RD_KAFKA_RESP_ERR_NO_ERROR;
  if (tag && tag->confirm) tag->confirm->Settle(ok);
  if (ok) {
    if (tag) publish_seconds_.Observe(std::chrono::nanoseconds(SteadyNs() - tag->start_ns));
    delivered_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  failures_.fetch_add(1, std::memory_order_relaxed);
  LogWarn("event bus: delivery failed", {{"topic", m.rkt ? rd_kafka_topic_name(m.rkt) : ""},
                                         {"partition", m.partition},
                                         {"error", rd_kafka_err2name(m.err)}});
}

}  // namespace parley::events
