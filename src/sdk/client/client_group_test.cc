// Client groups end to end: removal rotates the sender key out, late joiners and new devices
// read what is sent after they arrive.
#include <gtest/gtest.h>

#include "sdk/client/client_test_util.h"
#include "sdk/e2ee/records.h"

namespace parley::sdk {
namespace {

using namespace testing;

TEST(SdkClientGroup, RemovedMemberCannotDecryptWhatFollows) {
  TestServer server;
  ASSERT_TRUE(server.Start()) << server.log_path();
  Person alice = SignUp(server, "alice");
  Person bob = SignUp(server, "bob");
  Person carol = SignUp(server, "carol");
  auto g = alice.client->CreateGroup("plotters", {bob.username, carol.username});
  ASSERT_OK(g);
  const std::string gid = g->group_id;
  const std::string hello = "welcome to the plot, everyone";
  const std::string after = "carol is gone: the plan is tuesday";
  const std::string bob_after = "bob agrees on tuesday";

  ASSERT_OK(alice.client->SendText(gid, hello));
  EXPECT_EQ(Count(SyncTexts(*bob.client, gid), hello), 1);
  EXPECT_EQ(Count(SyncTexts(*carol.client, gid), hello), 1);

  ASSERT_OK(alice.client->RemoveMember(gid, carol.username));
  ASSERT_OK(alice.client->SendText(gid, after));
  ASSERT_OK(bob.client->Sync());
  ASSERT_OK(bob.client->SendText(gid, bob_after));
  auto at_bob = SyncTexts(*bob.client, gid);
  EXPECT_EQ(Count(at_bob, after), 1);
  auto at_alice = SyncTexts(*alice.client, gid);
  EXPECT_EQ(Count(at_alice, bob_after), 1);

  // Carol: gets nothing new, or ciphertext she cannot open — never the plaintext.
  ASSERT_OK(carol.client->Sync());
  auto convs = carol.client->store().ListConversations();
  ASSERT_OK(convs);
  for (const auto& c : *convs) {
    auto msgs = carol.client->store().ListMessages(c.conversation_id, 0, 1000);
    ASSERT_OK(msgs);
    for (const auto& m : *msgs) {
      EXPECT_NE(m.plaintext.value_or(""), after);
      EXPECT_NE(m.plaintext.value_or(""), bob_after);
    }
  }
  // Even fetching the ciphertext directly and trying every key she holds fails.
  auto raw = alice.client->api().GetChatHistory(g->conversation_id);
  ASSERT_OK(raw);
  for (const auto& m : raw->messages) EXPECT_EQ(m.body.find("tuesday"), std::string::npos);
  auto search = carol.client->Search("tuesday");
  ASSERT_OK(search);
  EXPECT_TRUE(search->empty());
  // (Group names are server metadata by the API: not secrets.)
  ExpectNoPlaintextOnServer(server, {hello, after, bob_after});
}

TEST(SdkClientGroup, LateJoinerAndNewDeviceReadWhatFollows) {
  TestServer server;
  ASSERT_TRUE(server.Start()) << server.log_path();
  Person alice = SignUp(server, "alice");
  Person bob = SignUp(server, "bob");
  Person dave = SignUp(server, "dave");
  auto g = alice.client->CreateGroup("club", {bob.username});
  ASSERT_OK(g);
  const std::string gid = g->group_id;
  const std::string early = "before dave arrived";
  const std::string late = "hello dave, glad you joined";
  const std::string for_new_device = "bob's new tablet should read this";

  ASSERT_OK(alice.client->SendText(gid, early));
  EXPECT_EQ(Count(SyncTexts(*bob.client, gid), early), 1);

  ASSERT_OK(alice.client->AddMember(gid, dave.username));
  ASSERT_OK(alice.client->SendText(gid, late));
  auto at_dave = SyncTexts(*dave.client, gid);
  EXPECT_EQ(Count(at_dave, late), 1);
  EXPECT_EQ(Count(at_dave, early), 0) << "history before joining is not visible";

  auto bob2 = NewDevice(server, bob.username, bob.username + "-tablet");
  ASSERT_OK(alice.client->SendText(gid, for_new_device));
  EXPECT_EQ(Count(SyncTexts(*bob2, gid), for_new_device), 1);
  EXPECT_EQ(Count(SyncTexts(*bob.client, gid), for_new_device), 1);
  EXPECT_EQ(Count(SyncTexts(*dave.client, gid), for_new_device), 1);

  // Dave writes back; everyone reads it.
  const std::string dave_says = "thanks, dave here";
  ASSERT_OK(dave.client->SendText(gid, dave_says));
  EXPECT_EQ(Count(SyncTexts(*alice.client, gid), dave_says), 1);
  EXPECT_EQ(Count(SyncTexts(*bob2, gid), dave_says), 1);
  ExpectNoPlaintextOnServer(server, {early, late, for_new_device, dave_says});
}

// A stranger (no member of the group) runs an engine of her own device and sends Bob a sender
// key and a search key for the group: Bob's client asks the server who the members are and
// refuses both, leaving his E2EE state as it was and the group readable.
TEST(SdkClientGroup, AStrangersKeysForTheGroupAreRefused) {
  TestServer server;
  ASSERT_TRUE(server.Start()) << server.log_path();
  Person alice = SignUp(server, "alice");
  Person bob = SignUp(server, "bob");
  Person mallory = SignUp(server, "mallory");
  auto g = alice.client->CreateGroup("closed", {bob.username});
  ASSERT_OK(g);
  const std::string conv = g->conversation_id;
  ASSERT_OK(alice.client->SetServerSearch(g->group_id, true));
  ASSERT_OK(alice.client->SendText(g->group_id, "members only"));
  EXPECT_EQ(Count(SyncTexts(*bob.client, g->group_id), "members only"), 1);
  auto held = bob.client->store().Get(e2ee::kKindSearchKey, conv);
  ASSERT_OK(held);
  ASSERT_TRUE(held->has_value());

  ApiClient& mapi = mallory.client->api();
  HttpKeyDirectory directory(mapi);
  ApiConversationMembers members(mapi, mallory.client->store());
  e2ee::Engine engine(mallory.client->store(), directory, members, mapi.user_id(),
                      mapi.device_id());
  ASSERT_OK(engine.Bootstrap());
  // A search key at a higher epoch than Alice's, so adopting it would show.
  e2ee::SearchKeyRecord planted{true, 5, std::string(32, 'M')};
  ASSERT_OK(mallory.client->store().Commit(
      {{e2ee::kKindSearchKey, conv, e2ee::EncodeSearchKey(planted)}}));
  ASSERT_OK(engine.EncryptMessage(conv, {bob.client->api().user_id()}, "planted"));

  auto before = bob.client->store().List(e2ee::kKindSenderReceiver);
  ASSERT_OK(before);
  ASSERT_OK(bob.client->Sync());  // the refused to-device message is dropped, not retried
  EXPECT_EQ(*bob.client->store().Get(e2ee::kKindSearchKey, conv), *held);
  auto after = bob.client->store().List(e2ee::kKindSenderReceiver);
  ASSERT_OK(after);
  EXPECT_EQ(*after, *before);
  for (const auto& [id, value] : *after) {
    EXPECT_EQ(id.find("\n" + mapi.user_id() + "\n"), std::string::npos) << "a chain of Mallory's";
  }
  ASSERT_OK(alice.client->SendText(g->group_id, "still ours"));
  EXPECT_EQ(Count(SyncTexts(*bob.client, g->group_id), "still ours"), 1);
}

}  // namespace
}  // namespace parley::sdk
