#include "services/delivery/delivery_router.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "events/event.h"

namespace parley::services {
namespace {

// A bus that records what is published and to which nodes.
class RecordingBus final : public events::EventBus {
 public:
  struct Sent {
    std::string topic;
    events::EventPtr event;
    std::vector<std::string> nodes;  // empty: Publish
  };
  void Publish(std::string_view topic, events::EventPtr event,
               events::ConfirmationPtr /*confirm*/) override {
    sent.push_back({std::string(topic), std::move(event), {}});
  }
  void PublishTo(std::string_view topic, events::EventPtr event,
                 const std::vector<std::string>& node_ids,
                 events::ConfirmationPtr /*confirm*/) override {
    sent.push_back({std::string(topic), std::move(event), node_ids});
  }
  void Subscribe(std::string_view topic, events::Handler handler,
                 events::Delivery delivery) override {
    subscribed.push_back({std::string(topic), delivery});
    handlers.push_back(std::move(handler));
  }
  bool AddressesNodes() const override { return true; }

  std::vector<Sent> sent;
  std::vector<std::pair<std::string, events::Delivery>> subscribed;
  std::vector<events::Handler> handlers;
};

// Users on nodes, as the registry would say; counts the questions; can be made unavailable.
class FakeRegistry final : public storage::ConnectionRegistry {
 public:
  const std::string& node_id() const override { return self; }
  Status Connected(std::string_view, std::string_view) override { return OkStatus(); }
  Status Disconnected(std::string_view, std::string_view) override { return OkStatus(); }
  Result<int64_t> UserConnections(std::string_view) override { return int64_t{0}; }
  Result<bool> DeviceOnline(std::string_view, std::string_view) override { return false; }
  Result<std::vector<std::string>> NodesOf(std::string_view) override {
    return std::vector<std::string>{};
  }
  Result<std::vector<std::vector<std::string>>> DeliveryNodes(
      const std::vector<std::string>& users) override {
    ++questions;
    if (during_question) std::exchange(during_question, nullptr)();
    if (down) return MakeError(ErrorCode::kUnavailable, "redis down");
    std::vector<std::vector<std::string>> out;
    for (const auto& u : users) out.push_back(where[u]);
    return out;
  }
  Result<std::vector<LiveNode>> LiveNodes() override {
    if (down) return MakeError(ErrorCode::kUnavailable, "redis down");
    return live;
  }

  std::string self = "n1";
  std::map<std::string, std::vector<std::string>> where;
  std::vector<LiveNode> live{{"n1", true}, {"n2", true}, {"n3", true}};
  bool down = false;
  int questions = 0;
  std::function<void()> during_question;  // runs inside the next DeliveryNodes, once
};

boost::json::object Typing() { return {{"conversation_id", "c"}, {"user_id", "alice"}}; }

TEST(DeliveryRouter, BroadcastPublishesOnMessageEventsAsBefore) {
  RecordingBus bus;
  Metrics metrics;
  DeliveryRouter router(bus, nullptr, metrics);
  router.Start();
  EXPECT_TRUE(bus.subscribed.empty());
  router.Publish(events::type::kTyping, "c", Typing(), {"bob"});
  ASSERT_EQ(bus.sent.size(), 1u);
  EXPECT_EQ(bus.sent[0].topic, events::topic::kMessage);
  EXPECT_TRUE(bus.sent[0].nodes.empty());
  EXPECT_FALSE(bus.sent[0].event->payload.contains("routed"));
}

TEST(DeliveryRouter, AddressesOnlyTheNodesHoldingTheRecipients) {
  RecordingBus bus;
  FakeRegistry registry;
  registry.where = {{"alice", {"n1"}}, {"bob", {"n2"}}, {"carol", {}}};
  Metrics metrics;
  DeliveryRouter router(bus, &registry, metrics);
  router.Start();
  router.Publish(events::type::kTyping, "c", Typing(), {"bob", "carol"});
  ASSERT_EQ(bus.sent.size(), 1u);  // typing: not on message-events while no older node lives
  EXPECT_EQ(bus.sent[0].topic, events::topic::kDeliveries);
  EXPECT_EQ(bus.sent[0].nodes, std::vector<std::string>{"n2"});
  EXPECT_TRUE(bus.sent[0].event->payload.at("routed").as_bool());

  // A message goes on message-events too (push, media, search read it there), with its id.
  bus.sent.clear();
  router.Publish(events::type::kMessageSent, "c", {{"seq", 1}}, {"alice", "bob", "carol"},
                 "0190f3a0-0000-7000-8000-000000000001");
  ASSERT_EQ(bus.sent.size(), 2u);
  EXPECT_EQ(bus.sent[0].nodes, (std::vector<std::string>{"n1", "n2"}));
  EXPECT_EQ(bus.sent[1].topic, events::topic::kMessage);
  EXPECT_EQ(bus.sent[0].event->event_id, "0190f3a0-0000-7000-8000-000000000001");

  // Nobody of the recipients online: nothing addressed.
  bus.sent.clear();
  router.Publish(events::type::kTyping, "c", Typing(), {"carol"});
  EXPECT_TRUE(bus.sent.empty());
}

TEST(DeliveryRouter, CachesAnswersUntilForgotten) {
  RecordingBus bus;
  FakeRegistry registry;
  registry.where = {{"bob", {"n2"}}};
  Metrics metrics;
  DeliveryRouter router(bus, &registry, metrics);
  router.Start();
  router.Publish(events::type::kTyping, "c", Typing(), {"bob"});
  router.Publish(events::type::kTyping, "c", Typing(), {"bob"});
  EXPECT_EQ(registry.questions, 1);
  registry.where["bob"] = {"n2", "n3"};
  router.Forget("bob");  // bob connected here, say
  bus.sent.clear();
  router.Publish(events::type::kTyping, "c", Typing(), {"bob"});
  EXPECT_EQ(registry.questions, 2);
  ASSERT_EQ(bus.sent.size(), 1u);
  EXPECT_EQ(bus.sent[0].nodes, (std::vector<std::string>{"n2", "n3"}));
}

TEST(DeliveryRouter, AFirstConnectionHereIsAnnouncedToTheOtherNodes) {
  RecordingBus bus;
  FakeRegistry registry;  // this node is n1
  registry.where = {{"bob", {"n2"}}};
  Metrics metrics;
  DeliveryRouter router(bus, &registry, metrics);
  router.Start();
  router.Publish(events::type::kTyping, "c", Typing(), {"bob"});
  bus.sent.clear();
  router.UserConnected("bob");
  ASSERT_EQ(bus.sent.size(), 1u);
  EXPECT_EQ(bus.sent[0].topic, events::topic::kDeliveries);
  EXPECT_EQ(bus.sent[0].event->type, events::type::kRoutesChanged);
  EXPECT_EQ(bus.sent[0].event->key, "bob");
  EXPECT_EQ(bus.sent[0].nodes, (std::vector<std::string>{"n2", "n3"}));
  // And this node asks the registry again.
  router.Publish(events::type::kTyping, "c", Typing(), {"bob"});
  EXPECT_EQ(registry.questions, 2);
}

TEST(DeliveryRouter, AnAnswerReadWhileTheUserConnectedIsUsedButNotKept) {
  RecordingBus bus;
  FakeRegistry registry;
  registry.where = {{"bob", {"n2"}}};
  Metrics metrics;
  DeliveryRouter router(bus, &registry, metrics);
  router.Start();
  registry.during_question = [&] { router.Forget("bob"); };  // bob connects meanwhile
  router.Publish(events::type::kTyping, "c", Typing(), {"bob"});
  ASSERT_EQ(bus.sent.size(), 1u);
  EXPECT_EQ(bus.sent[0].nodes, std::vector<std::string>{"n2"});
  router.Publish(events::type::kTyping, "c", Typing(), {"bob"});
  EXPECT_EQ(registry.questions, 2);  // asked again
  router.Publish(events::type::kTyping, "c", Typing(), {"bob"});
  EXPECT_EQ(registry.questions, 2);  // that answer was kept
}

TEST(DeliveryRouter, OlderNodesAlsoGetEveryKindOnMessageEvents) {
  RecordingBus bus;
  FakeRegistry registry;
  registry.where = {{"bob", {"n2"}}};
  registry.live = {{"n1", true}, {"n2", true}, {"old", false}};
  Metrics metrics;
  DeliveryRouter router(bus, &registry, metrics);
  router.Start();
  router.Publish(events::type::kTyping, "c", Typing(), {"bob"});
  ASSERT_EQ(bus.sent.size(), 2u);
  EXPECT_EQ(bus.sent[0].nodes, std::vector<std::string>{"n2"});
  EXPECT_EQ(bus.sent[1].topic, events::topic::kMessage);
}

TEST(DeliveryRouter, WithoutTheRegistryEveryLiveNodeGetsTheEvent) {
  RecordingBus bus;
  FakeRegistry registry;
  registry.where = {{"bob", {"n2"}}};
  Metrics metrics;
  DeliveryRouter router(bus, &registry, metrics);
  router.Start();  // learns n1, n2, n3
  registry.down = true;
  router.Publish(events::type::kTyping, "c", Typing(), {"bob"});
  ASSERT_EQ(bus.sent.size(), 2u);
  EXPECT_EQ(bus.sent[0].nodes, (std::vector<std::string>{"n1", "n2", "n3"}));
  EXPECT_EQ(bus.sent[1].topic, events::topic::kMessage);  // older nodes, if any
  // Within the back-off the registry is not asked again.
  router.Publish(events::type::kTyping, "c", Typing(), {"bob"});
  EXPECT_EQ(registry.questions, 1);
}

TEST(DeliveryRouter, TheBridgeRoutesOlderNodesEventsOnly) {
  RecordingBus bus;
  FakeRegistry registry;
  registry.where = {{"bob", {"n2"}}};
  Metrics metrics;
  DeliveryRouter router(bus, &registry, metrics);
  router.Start();
  ASSERT_EQ(bus.subscribed.size(), 1u);
  EXPECT_EQ(bus.subscribed[0].first, events::topic::kMessage);
  EXPECT_EQ(bus.subscribed[0].second, events::Delivery::kOneNode);
  auto old = events::MakeEvent(events::type::kMessageDelivered, "c",
                               {{"up_to_seq", 3}, {"member_ids", {"alice", "bob"}}});
  bus.handlers[0](events::topic::kMessage, old);
  ASSERT_EQ(bus.sent.size(), 1u);
  EXPECT_EQ(bus.sent[0].event, old);
  EXPECT_EQ(bus.sent[0].nodes, std::vector<std::string>{"n2"});
  auto routed = events::MakeEvent(events::type::kMessageSent, "c",
                                  {{"routed", true}, {"member_ids", {"bob"}}});
  bus.handlers[0](events::topic::kMessage, routed);
  EXPECT_EQ(bus.sent.size(), 1u);
}

TEST(DeliveryRouter, RecipientsOfEachKind) {
  auto e = [](std::string_view type, boost::json::object p) {
    return *events::MakeEvent(type, "k", std::move(p));
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(DeliveryRouter::Recipients(e(events::type::kMessageSent, {{"member_ids", {"a", "b"}}})),
            (V{"a", "b"}));
  EXPECT_EQ(DeliveryRouter::Recipients(e(events::type::kMessageRead, {{"recipient_ids", {"a"}}})),
            V{"a"});
  EXPECT_EQ(DeliveryRouter::Recipients(e(events::type::kTyping, {{"recipient_ids", {"b"}}})),
            V{"b"});
  EXPECT_EQ(DeliveryRouter::Recipients(e(events::type::kToDevice, {{"to_user_id", "c"}})), V{"c"});
  EXPECT_TRUE(DeliveryRouter::Recipients(e(events::type::kGroupCreated, {})).empty());
}

}  // namespace
}  // namespace parley::services
