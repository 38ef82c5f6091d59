// Client end to end against a real parleyd: direct messages, several devices, the outbox,
// de-duplication — and that the server never stores a plaintext.
#include <gtest/gtest.h>

#include "sdk/client/client_test_util.h"

namespace parley::sdk {
namespace {

using namespace testing;

TEST(SdkClientDirect, TwoUsersExchangeBothWays) {
  TestServer server;
  ASSERT_TRUE(server.Start()) << server.log_path();
  Person alice = SignUp(server, "alice");
  Person bob = SignUp(server, "bob");
  const std::string m1 = "hello bob, the eagle lands at noon";
  const std::string m2 = "hi alice, roger that: noon it is";

  auto sent = alice.client->SendText(bob.username, m1);
  ASSERT_OK(sent);
  EXPECT_EQ(sent->encryption, "e2ee-v1");
  EXPECT_EQ(Count(SyncTexts(*bob.client, alice.username), m1), 1);

  ASSERT_OK(bob.client->SendText(alice.username, m2));
  auto at_alice = SyncTexts(*alice.client, bob.username);
  EXPECT_EQ(Count(at_alice, m1), 1);  // her own, kept locally
  EXPECT_EQ(Count(at_alice, m2), 1);

  // What the server stored is ciphertext.
  auto page = bob.client->api().GetChatHistory(sent->conversation_id);
  ASSERT_OK(page);
  for (const auto& m : page->messages) {
    EXPECT_EQ(m.encryption, "e2ee-v1");
    EXPECT_EQ(m.body.find("eagle"), std::string::npos);
  }
  // Local search works on the decrypted text.
  auto found = bob.client->Search("eagle", alice.username);
  ASSERT_OK(found);
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ(found->front().plaintext, m1);
  ExpectNoPlaintextOnServer(server, {m1, m2, "eagle lands"});
}

TEST(SdkClientDevices, BothDevicesSeeEverything) {
  TestServer server;
  ASSERT_TRUE(server.Start()) << server.log_path();
  Person alice = SignUp(server, "alice");
  auto alice2 = NewDevice(server, alice.username, alice.username + "-laptop");
  Person bob = SignUp(server, "bob");
  const std::string to_alice = "to both of alice's devices";
  const std::string from_a1 = "alice's phone speaking";
  const std::string from_a2 = "alice's laptop speaking";

  ASSERT_OK(bob.client->SendText(alice.username, to_alice));
  EXPECT_EQ(Count(SyncTexts(*alice.client, bob.username), to_alice), 1);
  EXPECT_EQ(Count(SyncTexts(*alice2, bob.username), to_alice), 1);

  ASSERT_OK(alice.client->SendText(bob.username, from_a1));
  ASSERT_OK(alice2->SendText(bob.username, from_a2));
  auto at_bob = SyncTexts(*bob.client, alice.username);
  EXPECT_EQ(Count(at_bob, from_a1), 1);
  EXPECT_EQ(Count(at_bob, from_a2), 1);
  auto at_a1 = SyncTexts(*alice.client, bob.username);
  auto at_a2 = SyncTexts(*alice2, bob.username);
  EXPECT_EQ(Count(at_a1, from_a2), 1) << "the phone reads what the laptop sent";
  EXPECT_EQ(Count(at_a2, from_a1), 1) << "the laptop reads what the phone sent";
  ExpectNoPlaintextOnServer(server, {to_alice, from_a1, from_a2});
}

TEST(SdkClientDirect, RedeliveredMessageIsStoredOnce) {
  TestServer server;
  ASSERT_TRUE(server.Start()) << server.log_path();
  Person alice = SignUp(server, "alice");
  Person bob = SignUp(server, "bob");
  const std::string text = "say it once";
  ASSERT_OK(alice.client->SendText(bob.username, text));
  ASSERT_OK(bob.client->Sync());
  // The same message again from the server (history re-fetch, and a live replay): one copy.
  EventLog log;
  log.Attach(*bob.client);
  ASSERT_OK(bob.client->StartLive());
  ASSERT_TRUE(log.WaitConnected());
  auto h1 = bob.client->History(alice.username, 200);
  auto h2 = bob.client->History(alice.username, 200);
  ASSERT_OK(h1);
  ASSERT_OK(h2);
  EXPECT_EQ(Count(SyncTexts(*bob.client, alice.username), text), 1);
  EXPECT_EQ(log.CountText(text), 0) << "a redelivery is no new message";
  auto r = bob.client->Sync();
  ASSERT_OK(r);
  EXPECT_TRUE(r->messages.empty());
  bob.client->StopLive();
  ExpectNoPlaintextOnServer(server, {text});
}

// History fetched before the sender key (a to-device message) was processed: the message is
// stored pending, then decrypted by the sync that brings the key.
TEST(SdkClientDirect, PendingUntilTheSenderKeyArrives) {
  TestServer server;
  ASSERT_TRUE(server.Start()) << server.log_path();
  Person alice = SignUp(server, "alice");
  Person bob = SignUp(server, "bob");
  const std::string text = "I arrive before my key";
  ASSERT_OK(alice.client->SendText(bob.username, text));

  auto early = bob.client->History(alice.username, 10);
  ASSERT_OK(early);
  ASSERT_EQ(early->size(), 1u);
  EXPECT_TRUE(early->front().pending_decrypt);
  EXPECT_FALSE(early->front().plaintext.has_value());
  auto pending = bob.client->store().ListPendingDecrypt(10);
  ASSERT_OK(pending);
  EXPECT_EQ(pending->size(), 1u);

  auto r = bob.client->Sync();
  ASSERT_OK(r);
  EXPECT_EQ(r->pending, 0);
  ASSERT_EQ(r->messages.size(), 1u) << "reported once, when decrypted";
  EXPECT_EQ(r->messages[0].plaintext, text);
  EXPECT_EQ(Count(SyncTexts(*bob.client, alice.username), text), 1);
  auto found = bob.client->Search("arrive");
  ASSERT_OK(found);
  EXPECT_EQ(found->size(), 1u) << "indexed once decrypted";
  ExpectNoPlaintextOnServer(server, {text});
}

TEST(SdkClientOutbox, ReplayAfterCrashSendsOnce) {
  TestServer server;
  ASSERT_TRUE(server.Start()) << server.log_path();
  Person alice = SignUp(server, "alice");
  Person bob = SignUp(server, "bob");
  const std::string before_send = "queued, then the app crashed";
  const std::string after_send = "sent, but the crash came before the outbox was cleared";

  // Crash 1: encrypted and queued, never sent; the reopened client sends it.
  ASSERT_OK(alice.client->QueueText(bob.username, before_send));
  alice.client.reset();
  auto second = OpenClient(server, alice.username);
  auto replayed = second->FlushOutbox();
  ASSERT_OK(replayed);
  EXPECT_EQ(*replayed, 1);

  // Crash 2: the server stored it, but the outbox entry survived the crash.
  auto queued = second->QueueText(bob.username, after_send);
  ASSERT_OK(queued);
  OutboxEntry entry = *queued;
  ASSERT_OK(second->FlushOutbox());
  ASSERT_OK(second->store().AddOutbox(entry));
  second.reset();
  auto reopened = OpenClient(server, alice.username);
  replayed = reopened->FlushOutbox();
  ASSERT_OK(replayed);
  EXPECT_EQ(*replayed, 1);
  auto outbox = reopened->store().ListOutbox();
  ASSERT_OK(outbox);
  EXPECT_TRUE(outbox->empty());

  auto at_bob = SyncTexts(*bob.client, alice.username);
  EXPECT_EQ(Count(at_bob, before_send), 1);
  EXPECT_EQ(Count(at_bob, after_send), 1) << "the server de-duplicated the replay";
  auto at_alice = SyncTexts(*reopened, bob.username);
  EXPECT_EQ(Count(at_alice, after_send), 1);
  ExpectNoPlaintextOnServer(server, {before_send, after_send});
}

}  // namespace
}  // namespace parley::sdk
