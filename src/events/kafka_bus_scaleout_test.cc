// KafkaBus against a real broker: two buses in one process stand for two parleyd nodes.
// Needs PARLEY_TEST_KAFKA_BROKERS (e.g. 127.0.0.1:29092 from deploy/kafka/kafka.sh start); every
// test fails, never skips, without it. Each run creates its own topics (parley-test-<run>-…) and
// consumer groups, and deletes the topics at the end.
#include "events/kafka_bus.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/ids.h"
#include "events/kafka_client.h"

namespace parley::events {
namespace {

using namespace std::chrono_literals;
constexpr int kPartitions = 6;

#define ASSERT_OK(expr)                                   \
  do {                                                    \
    Status _s = (expr);                                   \
    ASSERT_TRUE(_s.ok()) << #expr << ": " << _s.error().message; \
  } while (0)

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds limit = 30s) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// A client for what the bus does not do: create and delete topics, produce raw records.
class RawClient {
 public:
  explicit RawClient(const std::string& brokers) {
    detail::KafkaConf conf = detail::NewConf();
    EXPECT_TRUE(detail::SetConf(conf.get(), "bootstrap.servers", brokers).ok());
    // The bus's partitioner, so a raw record with a key lands where the bus puts that key.
    EXPECT_TRUE(detail::SetConf(conf.get(), "partitioner", "murmur2_random").ok());
    auto rk = detail::NewClient(RD_KAFKA_PRODUCER, std::move(conf));
    EXPECT_TRUE(rk.ok());
    if (rk.ok()) rk_ = std::move(*rk);
  }

  bool CreateTopic(const std::string& name) {
    char err[256];
    rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(name.c_str(), kPartitions, 1, err, sizeof err);
    if (!nt) {
      ADD_FAILURE() << err;
      return false;
    }
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk_.get());
    rd_kafka_CreateTopics(rk_.get(), &nt, 1, nullptr, q);
    bool ok = AdminResultOk(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT, name);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    return ok;
  }

  void DeleteTopic(const std::string& name) {
    rd_kafka_DeleteTopic_t* dt = rd_kafka_DeleteTopic_new(name.c_str());
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk_.get());
    rd_kafka_DeleteTopics(rk_.get(), &dt, 1, nullptr, q);
    AdminResultOk(q, RD_KAFKA_EVENT_DELETETOPICS_RESULT, name);
    rd_kafka_queue_destroy(q);
    rd_kafka_DeleteTopic_destroy(dt);
  }

  // Produces one record and waits for it to be written.
  void Produce(const std::string& topic, const std::string& key, const std::string& value) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
        // F_COPY: librdkafka copies and never writes through the (non-const) pointer it asks for.
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    ASSERT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
    ASSERT_EQ(rd_kafka_flush(rk_.get(), 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  }

 private:
  bool AdminResultOk(rd_kafka_queue_t* q, rd_kafka_event_type_t type, const std::string& name) {
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 20000);
    if (!ev) {
      ADD_FAILURE() << "no admin result for " << name;
      return false;
    }
    bool ok = rd_kafka_event_type(ev) == type &&
              rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR_NO_ERROR;
    size_t n = 0;
    const rd_kafka_topic_result_t** results = nullptr;
    if (ok && type == RD_KAFKA_EVENT_CREATETOPICS_RESULT) {
      results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    } else if (ok) {
      results = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
    }
    for (size_t i = 0; ok && i < n; ++i) {
      if (rd_kafka_topic_result_error(results[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ADD_FAILURE() << name << ": " << rd_kafka_err2str(rd_kafka_topic_result_error(results[i]));
        ok = false;
      }
    }
    if (!ok && rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      ADD_FAILURE() << name << ": " << rd_kafka_event_error_string(ev);
    }
    rd_kafka_event_destroy(ev);
    return ok;
  }

  detail::KafkaHandle rk_;
};

// One node: a bus and what its handlers saw.
struct Node {
  Node(const std::string& brokers, const std::string& run, const std::string& name,
       int start_timeout_ms = 30000)
      : bus(KafkaBusOptions{.brokers = brokers,
                            .node_id = name,
                            .group_prefix = "parley-test-" + run,
                            .start_timeout_ms = start_timeout_ms}) {}

  void Subscribe(const std::string& topic, Delivery delivery) {
    bus.Subscribe(topic, [this](std::string_view, const EventPtr& e) {
      std::lock_guard lock(mu);
      seen.push_back(e);
    }, delivery);
  }
  size_t Count() {
    std::lock_guard lock(mu);
    return seen.size();
  }
  std::vector<EventPtr> Seen() {
    std::lock_guard lock(mu);
    return seen;
  }

  KafkaBus bus;
  std::mutex mu;
  std::vector<EventPtr> seen;  // guarded by mu
};

class KafkaBusScaleout : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* b = std::getenv("PARLEY_TEST_KAFKA_BROKERS");
    if (!b || !*b) {
      FAIL() << "PARLEY_TEST_KAFKA_BROKERS is not set: run deploy/kafka/kafka.sh start, then "
                "PARLEY_TEST_KAFKA_BROKERS=127.0.0.1:29092";
    }
    brokers_ = b;
    run_ = NewUuidV4().substr(0, 8);
    admin_ = std::make_unique<RawClient>(brokers_);
  }
  void TearDown() override {
    for (const auto& t : topics_) admin_->DeleteTopic(t);
  }

  std::string Topic(const std::string& name) {
    std::string t = "parley-test-" + run_ + "-" + name;
    if (admin_->CreateTopic(t)) topics_.push_back(t);
    return t;
  }
  std::unique_ptr<Node> NewNode(const std::string& name, int start_timeout_ms = 30000) {
    return std::make_unique<Node>(brokers_, run_, run_ + "-" + name, start_timeout_ms);
  }

  std::string brokers_;
  std::string run_;
  std::unique_ptr<RawClient> admin_;
  std::vector<std::string> topics_;
};

std::set<std::string> Ids(const std::vector<EventPtr>& events) {
  std::set<std::string> ids;
  for (const auto& e : events) ids.insert(e->event_id);
  return ids;
}

TEST_F(KafkaBusScaleout, EveryNodeReachesBothNodes) {
  std::string t = Topic("every");
  auto a = NewNode("a");
  auto b = NewNode("b");
  a->Subscribe(t, Delivery::kEveryNode);
  b->Subscribe(t, Delivery::kEveryNode);
  ASSERT_OK(a->bus.Start());
  ASSERT_OK(b->bus.Start());
  std::set<std::string> sent;
  for (int i = 0; i < 20; ++i) {
    auto e = MakeEvent(type::kMessageSent, "key-" + std::to_string(i), {{"i", i}});
    sent.insert(e->event_id);
    (i % 2 ? a : b)->bus.Publish(t, e);
  }
  ASSERT_TRUE(WaitFor([&] { return a->Count() >= 20 && b->Count() >= 20; }))
      << a->Count() << " " << b->Count();
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(a->Count(), 20u);
  EXPECT_EQ(b->Count(), 20u);
  EXPECT_EQ(Ids(a->Seen()), sent);
  EXPECT_EQ(Ids(b->Seen()), sent);
  a->bus.Stop();
  b->bus.Stop();
  EXPECT_EQ(a->bus.delivered() + b->bus.delivered(), 20u);
  EXPECT_EQ(a->bus.publish_failures() + b->bus.publish_failures(), 0u);
}

// Each node creates its own addressed topic at start; PublishTo reaches the nodes named only.
TEST_F(KafkaBusScaleout, AddressedReachesOnlyTheNodesNamed) {
  const std::string t = "parley-test-" + run_ + "-addr";
  auto a = NewNode("a");
  auto b = NewNode("b");
  a->Subscribe(t, Delivery::kAddressed);
  b->Subscribe(t, Delivery::kAddressed);
  ASSERT_OK(a->bus.Start());
  ASSERT_OK(b->bus.Start());
  topics_.push_back(AddressedTopic(t, run_ + "-a"));
  topics_.push_back(AddressedTopic(t, run_ + "-b"));
  const std::string na = run_ + "-a", nb = run_ + "-b";
  std::set<std::string> to_b, to_both;
  for (int i = 0; i < 10; ++i) {
    auto e = MakeEvent(type::kTyping, "conv-" + std::to_string(i), {{"i", i}});
    if (i % 2) {
      to_b.insert(e->event_id);
      a->bus.PublishTo(t, e, {nb});
    } else {
      to_both.insert(e->event_id);
      b->bus.PublishTo(t, e, {na, nb});
    }
  }
  a->bus.PublishTo(t, MakeEvent(type::kTyping, "nobody", {}), {});
  ASSERT_TRUE(WaitFor([&] { return a->Count() >= 5 && b->Count() >= 10; }))
      << a->Count() << " " << b->Count();
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(Ids(a->Seen()), to_both);
  std::set<std::string> all = to_b;
  all.insert(to_both.begin(), to_both.end());
  EXPECT_EQ(Ids(b->Seen()), all);
  // A restart finds its topic there.
  a->bus.Stop();
  auto again = NewNode("a");
  again->Subscribe(t, Delivery::kAddressed);
  ASSERT_OK(again->bus.Start());
  b->bus.PublishTo(t, MakeEvent(type::kTyping, "later", {}), {na});
  ASSERT_TRUE(WaitFor([&] { return again->Count() >= 1; }));
  EXPECT_TRUE(a->bus.AddressesNodes());
  EXPECT_EQ(a->bus.publish_failures() + b->bus.publish_failures(), 0u);
}

TEST_F(KafkaBusScaleout, OneNodeReachesExactlyOneNode) {
  std::string t = Topic("one");
  auto a = NewNode("a");
  auto b = NewNode("b");
  a->Subscribe(t, Delivery::kOneNode);
  b->Subscribe(t, Delivery::kOneNode);
  ASSERT_OK(a->bus.Start());
  ASSERT_OK(b->bus.Start());
  std::set<std::string> sent;
  for (int i = 0; i < 60; ++i) {
    auto e = MakeEvent(type::kMediaUploaded, "media-" + std::to_string(i % 30), {{"i", i}});
    sent.insert(e->event_id);
    a->bus.Publish(t, e);
  }
  ASSERT_TRUE(WaitFor([&] { return a->Count() + b->Count() >= 60; }))
      << a->Count() << " " << b->Count();
  std::this_thread::sleep_for(1500ms);  // a second delivery would show up by now
  auto sa = Ids(a->Seen());
  auto sb = Ids(b->Seen());
  EXPECT_EQ(a->Count() + b->Count(), 60u);
  std::set<std::string> both;
  for (const auto& id : sa) {
    if (sb.contains(id)) both.insert(id);
  }
  EXPECT_TRUE(both.empty()) << both.size() << " events reached both nodes";
  std::set<std::string> all = sa;
  all.insert(sb.begin(), sb.end());
  EXPECT_EQ(all, sent);
  // Two members share the six partitions, and 30 keys spread over them.
  EXPECT_GT(sa.size(), 0u);
  EXPECT_GT(sb.size(), 0u);
}

TEST_F(KafkaBusScaleout, OneNodeWorkMovesToTheOtherNodeWhenOneStops) {
  std::string t = Topic("failover");
  auto a = NewNode("a");
  auto b = NewNode("b");
  a->Subscribe(t, Delivery::kOneNode);
  b->Subscribe(t, Delivery::kOneNode);
  ASSERT_OK(a->bus.Start());
  ASSERT_OK(b->bus.Start());
  auto publisher = NewNode("p");
  ASSERT_OK(publisher->bus.Start());
  std::set<std::string> first;
  for (int i = 0; i < 30; ++i) {
    auto e = MakeEvent(type::kMediaUploaded, "media-" + std::to_string(i), {});
    first.insert(e->event_id);
    publisher->bus.Publish(t, e);
  }
  ASSERT_TRUE(WaitFor([&] { return a->Count() + b->Count() >= 30; }));
  a->bus.Stop();  // leaves the group: its partitions move to b
  const size_t b_before = b->Count();
  std::set<std::string> second;
  for (int i = 0; i < 30; ++i) {
    auto e = MakeEvent(type::kMediaUploaded, "media-" + std::to_string(i), {});
    second.insert(e->event_id);
    publisher->bus.Publish(t, e);
  }
  ASSERT_TRUE(WaitFor([&] { return b->Count() >= b_before + 30; })) << b->Count() - b_before;
  std::this_thread::sleep_for(500ms);
  std::set<std::string> b_ids = Ids(b->Seen());
  for (const auto& id : second) EXPECT_TRUE(b_ids.contains(id));
  // What a handled before it left was committed, so b does not handle it again.
  for (const auto& e : a->Seen()) EXPECT_FALSE(b_ids.contains(e->event_id));
}

TEST_F(KafkaBusScaleout, OneNodeEventsWaitForASubscriber) {
  std::string t = Topic("later");
  auto producer = NewNode("p");
  ASSERT_OK(producer->bus.Start());
  auto e = MakeEvent(type::kMediaUploaded, "m", {});
  producer->bus.Publish(t, e);
  producer->bus.Stop();  // flushes
  ASSERT_EQ(producer->bus.delivered(), 1u);
  auto worker = NewNode("w");
  worker->Subscribe(t, Delivery::kOneNode);
  ASSERT_OK(worker->bus.Start());
  ASSERT_TRUE(WaitFor([&] { return worker->Count() >= 1; }));
  EXPECT_EQ(worker->Seen()[0]->event_id, e->event_id);
}

TEST_F(KafkaBusScaleout, KeepsPerKeyOrder) {
  std::string t = Topic("order");
  auto a = NewNode("a");
  auto b = NewNode("b");
  b->Subscribe(t, Delivery::kEveryNode);
  ASSERT_OK(a->bus.Start());
  ASSERT_OK(b->bus.Start());
  constexpr int kKeys = 5;
  constexpr int kPerKey = 200;
  for (int i = 0; i < kPerKey; ++i) {
    for (int k = 0; k < kKeys; ++k) {
      a->bus.Publish(t, MakeEvent(type::kMessageSent, "conv-" + std::to_string(k), {{"seq", i}}));
    }
  }
  ASSERT_TRUE(WaitFor([&] { return b->Count() >= kKeys * kPerKey; })) << b->Count();
  std::map<std::string, int64_t> next;
  for (const auto& e : b->Seen()) {
    int64_t seq = e->payload.at("seq").as_int64();
    EXPECT_EQ(seq, next[e->key]) << e->key;
    next[e->key] = seq + 1;
  }
  EXPECT_EQ(next.size(), static_cast<size_t>(kKeys));
}

TEST_F(KafkaBusScaleout, DuplicateRecordIsHandledOnce) {
  std::string t = Topic("dup");
  auto a = NewNode("a");
  a->Subscribe(t, Delivery::kEveryNode);
  ASSERT_OK(a->bus.Start());
  auto e = MakeEvent(type::kMessageSent, "conv-dup", {{"n", 1}});
  std::string value = Serialize(*e);
  admin_->Produce(t, e->key, value);
  admin_->Produce(t, e->key, value);  // a redelivery: the same event_id again
  auto marker = MakeEvent(type::kMessageSent, "conv-dup", {{"n", 2}});
  admin_->Produce(t, marker->key, Serialize(*marker));
  ASSERT_TRUE(WaitFor([&] { return a->Count() >= 2; })) << a->Count();
  std::this_thread::sleep_for(300ms);
  auto seen = a->Seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0]->event_id, e->event_id);
  EXPECT_EQ(seen[1]->event_id, marker->event_id);
  EXPECT_EQ(a->bus.duplicates(), 1u);
}

TEST_F(KafkaBusScaleout, MalformedRecordIsSkippedAndTheNextDelivered) {
  std::string t = Topic("bad");
  auto a = NewNode("a");
  a->Subscribe(t, Delivery::kEveryNode);
  ASSERT_OK(a->bus.Start());
  const std::string key = "conv-bad";
  admin_->Produce(t, key, "this is not JSON");
  admin_->Produce(t, key, "");
  admin_->Produce(t, key,
                  R"({"event_id":"nope","type":"X","occurred_at":1,"key":"k","payload":{}})");
  auto good = MakeEvent(type::kMessageSent, key, {{"ok", true}});
  admin_->Produce(t, key, Serialize(*good));
  ASSERT_TRUE(WaitFor([&] { return a->Count() >= 1; }));
  std::this_thread::sleep_for(300ms);
  auto seen = a->Seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0]->event_id, good->event_id);
  EXPECT_EQ(seen[0]->payload, good->payload);
  EXPECT_EQ(a->bus.malformed(), 3u);
}

TEST_F(KafkaBusScaleout, StartFailsClearlyOnAMissingTopic) {
  auto a = NewNode("a", 3000);
  a->Subscribe("parley-test-" + run_ + "-never-created", Delivery::kEveryNode);
  Status s = a->bus.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(s.error().message.find("never-created"), std::string::npos) << s.error().message;
  // A stopped (never started) bus drops what is published, and counts it.
  a->bus.Publish("x", MakeEvent(type::kTyping, "k", {}));
  EXPECT_EQ(a->bus.publish_failures(), 1u);
}

TEST_F(KafkaBusScaleout, StartFailsWithinItsTimeoutWhenBrokersAreUnreachable) {
  KafkaBus bus(KafkaBusOptions{.brokers = "127.0.0.1:1", .node_id = "n", .start_timeout_ms = 2000});
  auto t0 = std::chrono::steady_clock::now();
  Status s = bus.Start();
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(s.error().message.find("unreachable"), std::string::npos) << s.error().message;
  EXPECT_LT(took, 10s);
}

}  // namespace
}  // namespace parley::events
