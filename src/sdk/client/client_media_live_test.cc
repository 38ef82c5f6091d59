// Client files and the live connection end to end.
#include <gtest/gtest.h>

#include "common/ids.h"
#include "sdk/client/client_test_util.h"

namespace parley::sdk {
namespace {

using namespace testing;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(SdkClientMedia, FileArrivesByteIdentical) {
  TestServer server;
  ASSERT_TRUE(server.Start()) << server.log_path();
  Person alice = SignUp(server, "alice");
  Person bob = SignUp(server, "bob");
  // Over several 64 KiB chunks, with a recognisable text inside.
  const std::string marker = "TOP-SECRET-FILE-CONTENT-" + NewUuidV4();
  std::string content;
  for (int i = 0; content.size() < 300'000; ++i)
    content += marker + " line " + std::to_string(i) + "\n";
  std::string path = server.root() + "/report.pdf";
  { std::ofstream(path, std::ios::binary) << content; }

  auto sent = alice.client->SendFile(bob.username, path);
  ASSERT_OK(sent);
  EXPECT_EQ(sent->content_type, "document");
  auto r = bob.client->Sync();
  ASSERT_OK(r);
  ASSERT_EQ(r->messages.size(), 1u);
  EXPECT_EQ(r->messages[0].plaintext, "report.pdf");
  std::string out = server.root() + "/received.pdf";
  auto got = bob.client->GetFile(r->messages[0].message_id, out);
  ASSERT_OK(got);
  EXPECT_EQ(ReadAll(out), content);
  // The sender can fetch their own file too.
  auto mine = alice.client->GetFile(sent->message_id, server.root() + "/mine.pdf");
  ASSERT_OK(mine);
  EXPECT_EQ(ReadAll(*mine), content);
  ExpectNoPlaintextOnServer(server, {marker, "report.pdf"});
}

TEST(SdkClientLive, OfflineRecipientCatchesUpOnReconnect) {
  TestServer server;
  ASSERT_TRUE(server.Start()) << server.log_path();
  Person alice = SignUp(server, "alice");
  Person bob = SignUp(server, "bob");
  EventLog log;
  log.Attach(*bob.client);
  ASSERT_OK(bob.client->StartLive());
  ASSERT_TRUE(log.WaitConnected());
  const std::string online = "you are online, bob";
  ASSERT_OK(alice.client->SendText(bob.username, online));
  EXPECT_TRUE(log.WaitText(online)) << "delivered live";

  bob.client->StopLive();
  std::vector<std::string> offline = {"while you were away 1", "while you were away 2",
                                      "while you were away 3"};
  for (const auto& t : offline) ASSERT_OK(alice.client->SendText(bob.username, t));
  ASSERT_OK(bob.client->StartLive());
  for (const auto& t : offline) EXPECT_TRUE(log.WaitText(t)) << t;
  bob.client->StopLive();
  for (const auto& t : offline) EXPECT_EQ(log.CountText(t), 1) << t;
  ExpectNoPlaintextOnServer(server, {online, offline[0], offline[1], offline[2]});
}

// On reconnect the server replays pending messages before pending to-device messages, so a
// new conversation's first message arrives before its sender key: it waits, then decrypts.
TEST(SdkClientLive, PendingMessageDecryptsWhenTheKeyArrivesLater) {
  TestServer server;
  ASSERT_TRUE(server.Start()) << server.log_path();
  Person alice = SignUp(server, "alice");
  Person bob = SignUp(server, "bob");
  const std::string text = "the key comes after me";
  ASSERT_OK(alice.client->SendText(bob.username, text));
  EventLog log;
  log.Attach(*bob.client);
  ASSERT_OK(bob.client->StartLive());
  EXPECT_TRUE(log.WaitText(text));
  bob.client->StopLive();
  auto pending = bob.client->store().ListPendingDecrypt(10);
  ASSERT_OK(pending);
  EXPECT_TRUE(pending->empty());
  auto h = bob.client->History(alice.username, 10);
  ASSERT_OK(h);
  ASSERT_EQ(h->size(), 1u);
  EXPECT_EQ(h->front().plaintext, text);
  ExpectNoPlaintextOnServer(server, {text});
}

// A client that crashes after the server wrote a to-device message to its socket but before it
// processed it must get it again: the server keeps it until `ack_to_device`. The "crash" is a
// bare LiveConnection of Bob's device that takes the frames and goes away without a word.
TEST(SdkClientLive, ToDeviceSurvivesAClientGoneBeforeItsAck) {
  TestServer server;
  ASSERT_TRUE(server.Start()) << server.log_path();
  Person alice = SignUp(server, "alice");
  Person bob = SignUp(server, "bob");
  const std::string text = "my sender key must not get lost";
  ASSERT_OK(alice.client->SendText(bob.username, text));

  std::mutex mu;
  std::condition_variable cv;
  int to_device_frames = 0;
  {
    LiveConnection crashed(bob.client->api());
    crashed.SetFrameCallback([&](const boost::json::object& f) {
      if (JStr(f, "type") != "to_device") return;
      std::lock_guard lock(mu);
      ++to_device_frames;
      cv.notify_all();
    });
    ASSERT_OK(crashed.Start());
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(15), [&] { return to_device_frames > 0; }));
  }  // gone without processing or acknowledging anything

  // Still queued on the server.
  auto queued = bob.client->api().GetMessages("", 50);
  ASSERT_OK(queued);
  ASSERT_EQ(queued->to_device.size(), 1u);

  EventLog log;
  log.Attach(*bob.client);
  ASSERT_OK(bob.client->StartLive());
  EXPECT_TRUE(log.WaitText(text)) << "the sender key came again and the message decrypted";
  // Processed and committed, so acknowledged: the queue empties.
  bool emptied = false;
  for (int i = 0; i < 100 && !emptied; ++i) {
    auto page = bob.client->api().GetMessages("", 50);
    ASSERT_OK(page);
    emptied = page->to_device.empty();
    if (!emptied) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(emptied) << "the live client acknowledged the to-device message";
  bob.client->StopLive();
  auto pending = bob.client->store().ListPendingDecrypt(10);
  ASSERT_OK(pending);
  EXPECT_TRUE(pending->empty());
  EXPECT_EQ(log.CountText(text), 1);
}

}  // namespace
}  // namespace parley::sdk
