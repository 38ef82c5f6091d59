#include "events/kafka_consumer.h"

#include <chrono>
#include <exception>
#include <memory>
#include <string_view>
#include <utility>

#include "common/log.h"

namespace parley::events::detail {
namespace {

constexpr int kPollMs = 100;
constexpr int kOffsetQueryTimeoutMs = 5000;

std::string_view Topic(const rd_kafka_message_t& m) {
  return m.rkt ? std::string_view(rd_kafka_topic_name(m.rkt)) : std::string_view();
}

}  // namespace

bool RecentIds::SeenBefore(const std::string& id) {
  if (capacity_ == 0) return false;
  auto it = index_.find(id);
  if (it != index_.end()) {
    order_.splice(order_.begin(), order_, it->second);
    return true;
  }
  order_.push_front(id);
  index_.emplace(id, order_.begin());
  if (order_.size() > capacity_) {
    index_.erase(order_.back());
    order_.pop_back();
  }
  return false;
}

KafkaConsumer::KafkaConsumer(ConsumerOptions options, ConsumerStats* stats)
    : options_(std::move(options)), stats_(stats), recent_(options_.dedup_capacity) {}

KafkaConsumer::~KafkaConsumer() { Stop(); }

Status KafkaConsumer::Start() {
  KafkaConf conf = NewConf();
  const bool every_node = options_.delivery == Delivery::kEveryNode;
  PARLEY_TRY(SetConf(conf.get(), "bootstrap.servers", options_.brokers));
  PARLEY_TRY(SetConf(conf.get(), "group.id", options_.group_id));
  PARLEY_TRY(SetConf(conf.get(), "client.id", options_.client_id));
  // Offsets are stored by hand after the handlers ran and committed by the timer (and on leave).
  PARLEY_TRY(SetConf(conf.get(), "enable.auto.commit", "true"));
  PARLEY_TRY(SetConf(conf.get(), "enable.auto.offset.store", "false"));
  PARLEY_TRY(SetConf(conf.get(), "auto.commit.interval.ms", "1000"));
  PARLEY_TRY(SetConf(conf.get(), "auto.offset.reset", every_node ? "latest" : "earliest"));
  // A fetch the broker holds returns as soon as a record arrives (fetch.min.bytes is 1), so a
  // long wait costs no latency; it only spaces the polls of a quiet topic (every consumer of
  // every node polls every topic it follows).
  PARLEY_TRY(SetConf(conf.get(), "fetch.wait.max.ms", "500"));
  // A dead node's partitions (kOneNode) move to the others within seconds, not 45 s.
  PARLEY_TRY(SetConf(conf.get(), "session.timeout.ms", "10000"));
  PARLEY_TRY(SetConf(conf.get(), "heartbeat.interval.ms", "2000"));
  rd_kafka_conf_set_rebalance_cb(conf.get(), &KafkaConsumer::RebalanceCb);
  rd_kafka_conf_set_opaque(conf.get(), this);
  auto rk = NewClient(RD_KAFKA_CONSUMER, std::move(conf));
  if (!rk.ok()) return rk.error();
  rk_ = std::move(*rk);

  rd_kafka_resp_err_t err = rd_kafka_poll_set_consumer(rk_.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rk_.reset();
    return MakeError(ErrorCode::kInternal, std::string("kafka consumer: ") + rd_kafka_err2str(err));
  }
  PartitionList topics(
      rd_kafka_topic_partition_list_new(static_cast<int>(options_.handlers.size())));
  for (const auto& [topic, handlers] : options_.handlers) {
    rd_kafka_topic_partition_list_add(topics.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  }
  err = rd_kafka_subscribe(rk_.get(), topics.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rk_.reset();
    return MakeError(ErrorCode::kInternal, std::string("kafka subscribe ") + options_.group_id +
                                               ": " + rd_kafka_err2str(err));
  }
  thread_ = std::thread([this] { Run(); });
  return OkStatus();
}

void KafkaConsumer::Stop() {
  stop_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
  rk_.reset();
}

void KafkaConsumer::Run() {
  while (!stop_.load(std::memory_order_acquire)) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), kPollMs);
    if (!m) continue;
    Handle(*m);
    rd_kafka_message_destroy(m);
  }
  // Leaves the group: revokes (our callback commits what was handled) and commits stored offsets.
  rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk_.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    LogWarn("event bus: kafka consumer close", {{"group", options_.group_id},
                                                {"error", rd_kafka_err2name(err)}});
  }
}

void KafkaConsumer::Handle(const rd_kafka_message_t& m) {
  if (m.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
    // rd_kafka_message_errstr gives librdkafka's text for consumer errors, never record bytes.
    LogWarn("event bus: kafka consumer error", {{"group", options_.group_id},
                                                {"topic", Topic(m)},
                                                {"error", rd_kafka_err2name(m.err)},
                                                {"detail", rd_kafka_message_errstr(&m)}});
    return;
  }
  std::string_view topic = Topic(m);
  rd_kafka_timestamp_type_t ts_type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  const int64_t created_ms = rd_kafka_message_timestamp(&m, &ts_type);
  if (ts_type == RD_KAFKA_TIMESTAMP_CREATE_TIME && created_ms > 0) {
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    stats_->transit_seconds.Observe(std::chrono::milliseconds(now_ms - created_ms));
  }
  auto decoded =
      FromJson(std::string_view(static_cast<const char*>(m.payload), m.payload ? m.len : 0));
  if (!decoded.ok()) {
    stats_->malformed.fetch_add(1, std::memory_order_relaxed);
    LogWarn("event bus: malformed record skipped", {{"group", options_.group_id},
                                                    {"topic", topic},
                                                    {"partition", m.partition},
                                                    {"offset", m.offset},
                                                    {"error", decoded.error().message}});
    StoreOffset(m);
    return;
  }
  if (recent_.SeenBefore(std::string(topic) + '/' + decoded->event_id)) {
    stats_->duplicates.fetch_add(1, std::memory_order_relaxed);
    LogDebug("event bus: duplicate event skipped", {{"topic", topic},
                                                    {"event_id", decoded->event_id}});
    StoreOffset(m);
    return;
  }
  auto it = options_.handlers.find(topic);
  if (it != options_.handlers.end()) {
    EventPtr event = std::make_shared<const Event>(std::move(*decoded));
    for (const auto& handler : it->second) {
      // A handler's bug must not stop this node from consuming; it is logged and passed over.
      try {
        handler(topic, event);
      } catch (const std::exception& e) {
        LogError("event bus: handler threw", {{"topic", topic}, {"type", event->type},
                                              {"event_id", event->event_id}, {"error", e.what()}});
      } catch (...) {
        LogError("event bus: handler threw", {{"topic", topic}, {"type", event->type},
                                              {"event_id", event->event_id}});
      }
    }
  }
  stats_->handled.fetch_add(1, std::memory_order_relaxed);
  StoreOffset(m);
}

void KafkaConsumer::StoreOffset(const rd_kafka_message_t& m) {
  PartitionList one(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(one.get(), rd_kafka_topic_name(m.rkt), m.partition)->offset =
      m.offset + 1;
  rd_kafka_resp_err_t err = rd_kafka_offsets_store(rk_.get(), one.get());
  // __STATE: the partition was revoked meanwhile; its new owner handles the record again.
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__STATE) {
    LogWarn("event bus: kafka offset store", {{"group", options_.group_id},
                                              {"error", rd_kafka_err2name(err)}});
  }
}

void KafkaConsumer::RebalanceCb(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t* parts, void* opaque) {
  static_cast<KafkaConsumer*>(opaque)->OnRebalance(err, parts);
}

void KafkaConsumer::OnRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts) {
  rd_kafka_resp_err_t ret = RD_KAFKA_RESP_ERR_NO_ERROR;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (options_.delivery == Delivery::kEveryNode) StartLiveAtEnd(parts);
    ret = rd_kafka_assign(rk_.get(), parts);
    LogInfo("event bus: kafka partitions assigned", {{"group", options_.group_id},
                                                     {"partitions", parts->cnt}});
    assigned_.store(true, std::memory_order_release);
  } else {
    // Commit what was handled before another member takes these partitions over, so it does not
    // handle them again. __NO_OFFSET: nothing new to commit.
    rd_kafka_resp_err_t c = rd_kafka_commit(rk_.get(), nullptr, 0);
    if (c != RD_KAFKA_RESP_ERR_NO_ERROR && c != RD_KAFKA_RESP_ERR__NO_OFFSET) {
      LogWarn("event bus: kafka commit on revoke", {{"group", options_.group_id},
                                                    {"error", rd_kafka_err2name(c)}});
    }
    ret = rd_kafka_assign(rk_.get(), nullptr);
  }
  if (ret != RD_KAFKA_RESP_ERR_NO_ERROR) {
    LogError("event bus: kafka assign", {{"group", options_.group_id},
                                         {"error", rd_kafka_err2name(ret)}});
  }
}

// A partition this group never committed starts at its current end, looked up now rather than
// lazily at the first fetch: an event published after the assignment is then never skipped.
void KafkaConsumer::StartLiveAtEnd(rd_kafka_topic_partition_list_t* parts) {
  rd_kafka_resp_err_t err = rd_kafka_committed(rk_.get(), parts, kOffsetQueryTimeoutMs);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    LogWarn("event bus: kafka committed offsets", {{"group", options_.group_id},
                                                   {"error", rd_kafka_err2name(err)}});
    return;  // auto.offset.reset=latest applies
  }
  for (int i = 0; i < parts->cnt; ++i) {
    rd_kafka_topic_partition_t& p = parts->elems[i];
    if (p.offset >= 0) continue;  // resume where this node left off
    int64_t high = 0;
    err = QueryEnd(p.topic, p.partition, &high);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      LogWarn("event bus: kafka end offset", {{"group", options_.group_id}, {"topic", p.topic},
                                              {"partition", p.partition},
                                              {"error", rd_kafka_err2name(err)}});
      p.offset = RD_KAFKA_OFFSET_END;
      continue;
    }
    p.offset = high;
  }
}

// The partition's end offset. A partition whose leader just moved or was just created answers
// "not leader" for a moment, so that is tried again for a bounded time.
rd_kafka_resp_err_t KafkaConsumer::QueryEnd(const char* topic, int32_t partition, int64_t* end) {
  const auto until =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kOffsetQueryTimeoutMs);
  while (true) {
    int64_t low = 0;
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk_.get(), topic, partition, &low,
                                                               end, kOffsetQueryTimeoutMs);
    bool transient = err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
                     err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                     err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                     err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION;
    if (!transient || std::chrono::steady_clock::now() >= until) return err;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace parley::events::detail
