#include "events/inproc_bus.h"

#include <gtest/gtest.h>

namespace parley::events {
namespace {

TEST(InProcessBus, DeliversToSubscribersOfTheTopicInOrder) {
  InProcessBus bus;
  std::vector<std::string> seen;
  bus.Subscribe(topic::kMessage, [&](std::string_view t, const EventPtr& e) {
    seen.push_back(std::string(t) + ":" + e->key);
  });
  bus.Subscribe(topic::kUserStatus, [&](std::string_view, const EventPtr&) { seen.push_back("x"); });
  bus.Publish(topic::kMessage, MakeEvent(type::kMessageSent, "c1", {}));
  bus.Publish(topic::kMessage, MakeEvent(type::kMessageSent, "c2", {}));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], "message-events:c1");
  EXPECT_EQ(seen[1], "message-events:c2");
  EXPECT_EQ(bus.published(), 2u);
}

TEST(InProcessBus, HasAnAudienceOnlyForTopicsWithSubscribers) {
  InProcessBus bus;
  EXPECT_FALSE(bus.HasAudience(topic::kConversation));
  bus.Subscribe(topic::kConversation, [](std::string_view, const EventPtr&) {});
  EXPECT_TRUE(bus.HasAudience(topic::kConversation));
  EXPECT_FALSE(bus.HasAudience(topic::kMessage));
}

TEST(Confirmation, EndsOnceEveryRecordSettledAndTheCreatorReleased) {
  std::vector<bool> done;
  auto c = std::make_shared<Confirmation>([&](bool ok) { done.push_back(ok); });
  c->Expect();
  c->Expect();
  c->Settle(true);  // early: the other record and the creator's hold are still out
  EXPECT_TRUE(done.empty());
  c->Release();
  EXPECT_TRUE(done.empty());
  c->Settle(true);
  EXPECT_EQ(done, std::vector<bool>{true});

  std::vector<bool> failed;
  auto f = std::make_shared<Confirmation>([&](bool ok) { failed.push_back(ok); });
  f->Expect();
  f->Expect();
  f->Settle(false);
  f->Settle(true);
  f->Release();
  EXPECT_EQ(failed, std::vector<bool>{false});
}

TEST(Event, JsonHasTheEnvelopeFields) {
  auto e = MakeEvent(type::kMessageRead, "k", {{"a", 1}});
  auto j = ToJson(*e);
  for (const char* f : {"event_id", "type", "occurred_at", "key", "payload"}) EXPECT_TRUE(j.contains(f)) << f;
  EXPECT_EQ(j["type"].as_string(), "MESSAGE_READ");
}

}  // namespace
}  // namespace parley::events
