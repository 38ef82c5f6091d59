// OutboxRelay over a real SqliteStore (the message to announce) with an outbox and a bus that
// record what they are asked: an acknowledged event's entry is removed; an old entry's
// MESSAGE_SENT is published again, with the message_id as its event id.
#include "services/delivery/outbox_relay.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <thread>

#include "common/ids.h"
#include "common/time.h"
#include "events/event.h"
#include "storage/conformance/conformance.h"
#include "storage/sqlite/sqlite_store.h"

namespace parley::services {
namespace {

using namespace std::chrono_literals;

class FakeOutbox final : public storage::MessageOutbox {
 public:
  Status MarkAnnounced(const std::vector<storage::OutboxEntry>& entries) override {
    std::lock_guard lock(mu);
    for (const auto& e : entries) announced.push_back(e.message_id);
    return OkStatus();
  }
  Result<std::vector<storage::OutboxEntry>> ClaimUnannounced(int64_t, int64_t, int) override {
    std::lock_guard lock(mu);
    return std::exchange(claimable, {});
  }
  std::vector<std::string> Announced() {
    std::lock_guard lock(mu);
    return announced;
  }

  std::mutex mu;
  std::vector<storage::OutboxEntry> claimable;  // guarded by mu: handed out once
  std::vector<std::string> announced;           // guarded by mu: message ids
};

// A bus whose records the test acknowledges by hand.
class HandBus final : public events::EventBus {
 public:
  void Publish(std::string_view, events::EventPtr event, events::ConfirmationPtr confirm) override {
    if (confirm) confirm->Expect();
    std::lock_guard lock(mu);
    sent.push_back({std::move(event), std::move(confirm)});
  }
  void Subscribe(std::string_view, events::Handler, events::Delivery) override {}
  bool HasAudience(std::string_view topic) const override {
    return topic == events::topic::kMessage;  // no CONVERSATION_UPDATED to step over
  }
  size_t Count() {
    std::lock_guard lock(mu);
    return sent.size();
  }
  std::pair<events::EventPtr, events::ConfirmationPtr> At(size_t i) {
    std::lock_guard lock(mu);
    return sent.at(i);
  }

  std::mutex mu;
  std::vector<std::pair<events::EventPtr, events::ConfirmationPtr>> sent;  // guarded by mu
};

using storage::conformance::Wait;

class OutboxRelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("parley-outbox-" + NewUuidV4());
    std::filesystem::create_directories(dir_);
    store_ = std::make_unique<storage::sqlite::SqliteStore>(
        storage::sqlite::SqliteOptions{(dir_ / "p.db").string()});
    ASSERT_TRUE(store_->Open().ok());
    storage::AppendRequest r;
    const std::string a = NewUuidV4(), b = NewUuidV4();
    r.conversation_id = DirectConversationId(a, b);
    r.direct_pair = {a, b};
    r.sender_id = a;
    r.sender_device_id = NewUuidV4();
    r.client_msg_id = NewUuidV7();
    r.content_type = "text";
    r.encryption = "none";
    r.body = "hello";
    auto sent = Wait<storage::AppendResult>([&](auto d) { store_->Append(r, d); });
    ASSERT_TRUE(sent.ok()) << sent.error().message;
    sent_ = *sent;
  }
  void TearDown() override {
    store_->Close();
    std::filesystem::remove_all(dir_);
  }
  bool Eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = 5s) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }

  std::filesystem::path dir_;
  std::unique_ptr<storage::sqlite::SqliteStore> store_;
  storage::AppendResult sent_;
  HandBus bus_;
  Metrics metrics_;
  DeliveryRouter router_{bus_, nullptr, metrics_};
  FakeOutbox outbox_;
};

TEST_F(OutboxRelayTest, AnAcknowledgedEventsEntryIsRemovedAnUnacknowledgedOneStays) {
  OutboxRelay relay(router_, *store_, outbox_, metrics_);
  relay.Start();
  const storage::Message& m = sent_.message;
  auto confirm = relay.Track(m);
  router_.Publish(events::type::kMessageSent, m.conversation_id, {{"seq", m.seq}},
                  sent_.member_ids, m.message_id, confirm);
  confirm->Release();
  ASSERT_EQ(bus_.Count(), 1u);
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(outbox_.Announced().empty());  // not acknowledged yet
  bus_.At(0).second->Settle(true);
  EXPECT_TRUE(Eventually([&] { return outbox_.Announced() == std::vector{m.message_id}; }));

  auto lost = relay.Track(m);
  router_.Publish(events::type::kMessageSent, m.conversation_id, {}, {}, m.message_id, lost);
  lost->Release();
  bus_.At(1).second->Settle(false);
  relay.Stop();
  EXPECT_EQ(outbox_.Announced().size(), 1u);  // the failed one is left for Republish
}

TEST_F(OutboxRelayTest, AnOldEntryIsPublishedAgainFromTheStore) {
  const storage::Message& m = sent_.message;
  outbox_.claimable = {{m.conversation_id, m.seq, m.message_id, m.created_at},
                       {m.conversation_id, m.seq + 1, NewUuidV7(), m.created_at}};  // no message
  OutboxRelay relay(router_, *store_, outbox_, metrics_);
  relay.Start();
  ASSERT_TRUE(Eventually([&] { return bus_.Count() >= 1; }));
  auto [event, confirm] = bus_.At(0);
  EXPECT_EQ(event->type, events::type::kMessageSent);
  EXPECT_EQ(event->event_id, m.message_id);  // consumers drop a repeat by it
  EXPECT_EQ(event->payload.at("seq").as_int64(), m.seq);
  EXPECT_EQ(event->payload.at("member_ids").as_array().size(), 2u);
  // The entry of a message that is not there is dropped; the other goes once acknowledged.
  EXPECT_TRUE(Eventually([&] { return outbox_.Announced().size() == 1; }));
  confirm->Settle(true);
  EXPECT_TRUE(Eventually([&] { return outbox_.Announced().size() == 2; }));
  relay.Stop();
  EXPECT_EQ(bus_.Count(), 1u);
  EXPECT_EQ(outbox_.Announced()[1], m.message_id);
}

}  // namespace
}  // namespace parley::services
