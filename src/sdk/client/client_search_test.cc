// Client server-assisted search against a real parleyd: off by default (no tokens leave the
// device), opt-in per conversation and device, the search key reaches members with the sender
// key, a non-member finds nothing.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "sdk/client/client_test_util.h"

namespace parley::sdk {
namespace {

using namespace testing;

// The server's copy of a message (what it stored, search_tokens included).
Message ServerCopy(Client& c, const std::string& conversation_id, const std::string& message_id) {
  auto page = c.api().GetChatHistory(conversation_id, 0, 0, 200);
  EXPECT_TRUE(page.ok()) << (page.ok() ? "" : page.error().message);
  if (page.ok())
    for (const auto& m : page->messages)
      if (m.message_id == message_id) return m;
  ADD_FAILURE() << "message " << message_id << " not on the server";
  return {};
}

std::vector<std::string> Texts(const std::vector<LocalMessage>& ms) {
  std::vector<std::string> out;
  for (const auto& m : ms) out.push_back(m.plaintext.value_or("<no plaintext>"));
  return out;
}

// Indexing is asynchronous: polls until `want` results (or 10 s), returns the last answer.
std::vector<std::string> ServerFinds(Client& c, const std::string& text, const std::string& in,
                                     size_t want) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::vector<std::string> got;
  for (;;) {
    auto r = c.SearchServer(text, in);
    EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message);
    if (!r.ok()) return {};
    got = Texts(*r);
    if (got.size() >= want || std::chrono::steady_clock::now() > deadline) return got;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

bool IsLowerHex(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

TEST(SdkClientSearch, OptInPerConversationSharedKeyMembersOnly) {
  TestServer server;
  ASSERT_TRUE(server.Start()) << server.log_path();
  Person alice = SignUp(server, "alice");
  Person bob = SignUp(server, "bob");
  Person carol = SignUp(server, "carol");  // never a member
  auto g = alice.client->CreateGroup("search club", {bob.username});
  ASSERT_OK(g);
  const std::string gid = g->group_id, conv = g->conversation_id;
  const std::string before = "the walrus sings at dawn";
  const std::string lighthouse = "Meet at the LIGHTHOUSE tonight";
  const std::string bob_off = "bob whispers pelican";
  const std::string bob_on = "bob saw the lighthouse too";
  const std::string keeper = "the lighthouse keeper waves";

  // Off by default: nothing is sent, and server search refuses (no tokens to ask with).
  auto sent = alice.client->SendText(gid, before);
  ASSERT_OK(sent);
  EXPECT_TRUE(ServerCopy(*alice.client, conv, sent->message_id).search_tokens.empty());
  auto off = alice.client->SearchServer("walrus", gid);
  ASSERT_FALSE(off.ok());
  EXPECT_EQ(off.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(alice.client->SearchServer("walrus", "").ok()) << "a conversation is required";

  // Alice opts in: what she sends from now on carries tokens; the earlier message stays unfound.
  ASSERT_OK(alice.client->SetServerSearch(gid, true));
  sent = alice.client->SendText(gid, lighthouse);
  ASSERT_OK(sent);
  auto copy = ServerCopy(*alice.client, conv, sent->message_id);
  EXPECT_EQ(copy.search_tokens.size(), 5u) << "one per distinct word";
  for (const auto& t : copy.search_tokens) EXPECT_TRUE(IsLowerHex(t) && t.size() == 32) << t;
  EXPECT_EQ(copy.body.find("LIGHTHOUSE"), std::string::npos);
  EXPECT_EQ(ServerFinds(*alice.client, "lighthouse", gid, 1),
            std::vector<std::string>{lighthouse});
  EXPECT_EQ(ServerFinds(*alice.client, "Lighthouse, TONIGHT!", gid, 1),
            std::vector<std::string>{lighthouse})
      << "same normalization as sending; every word must match";
  EXPECT_TRUE(ServerFinds(*alice.client, "lighthouse walrus", gid, 0).empty());
  EXPECT_TRUE(ServerFinds(*alice.client, "lighthou", gid, 0).empty()) << "no prefix matching";
  EXPECT_TRUE(ServerFinds(*alice.client, "walrus", gid, 0).empty()) << "sent before opting in";
  // The setting is kept in the profile: a reopened client still sends tokens.
  alice.client.reset();
  alice.client = OpenClient(server, alice.username);
  ASSERT_NE(alice.client, nullptr);

  // Bob received the search key with alice's sender key. With search off on his device he
  // sends no tokens, even though he holds the key.
  EXPECT_EQ(Count(SyncTexts(*bob.client, gid), lighthouse), 1);
  EXPECT_FALSE(bob.client->SearchServer("lighthouse", gid).ok()) << "off on bob's device";
  sent = bob.client->SendText(gid, bob_off);
  ASSERT_OK(sent);
  EXPECT_TRUE(ServerCopy(*bob.client, conv, sent->message_id).search_tokens.empty());

  // Bob opts in: he keeps the received key, so his tokens match alice's both ways.
  ASSERT_OK(bob.client->SetServerSearch(gid, true));
  EXPECT_EQ(ServerFinds(*bob.client, "lighthouse", gid, 1), std::vector<std::string>{lighthouse});
  ASSERT_OK(bob.client->SendText(gid, bob_on));
  ASSERT_OK(alice.client->Sync());  // bob's sender key (hits need it to decrypt)
  EXPECT_EQ(ServerFinds(*alice.client, "lighthouse", gid, 2),
            (std::vector<std::string>{bob_on, lighthouse}))
      << "newest first";
  EXPECT_TRUE(ServerFinds(*alice.client, "pelican", gid, 0).empty()) << "bob sent it opted out";

  // A hit bob has not synced yet is fetched from the server and decrypted.
  ASSERT_OK(alice.client->SendText(gid, keeper));
  EXPECT_EQ(ServerFinds(*bob.client, "keeper", gid, 1), std::vector<std::string>{keeper});
  auto stored = bob.client->store().Search("keeper", conv, 10);
  ASSERT_OK(stored);
  EXPECT_EQ(stored->size(), 1u) << "the decrypted hit is stored";

  // Carol, never a member, gets nothing: she cannot name the conversation, and even the real
  // tokens (copied from the server's message) are refused for it.
  EXPECT_FALSE(carol.client->SearchServer("lighthouse", gid).ok());
  std::string q;
  for (const auto& t : copy.search_tokens) q += (q.empty() ? "" : " ") + t;
  auto raw = carol.client->api().SearchMessages(q, conv);
  ASSERT_FALSE(raw.ok());
  EXPECT_EQ(raw.error().code, ErrorCode::kNotFound);  // as if it did not exist (docs/api.md)
  auto anywhere = carol.client->api().SearchMessages(q);
  ASSERT_OK(anywhere);
  EXPECT_TRUE(anywhere->empty());

  // Opting out again: no more tokens.
  ASSERT_OK(alice.client->SetServerSearch(gid, false));
  sent = alice.client->SendText(gid, "lighthouse lights out");
  ASSERT_OK(sent);
  EXPECT_TRUE(ServerCopy(*alice.client, conv, sent->message_id).search_tokens.empty());
  ExpectNoPlaintextOnServer(server, {before, lighthouse, bob_off, bob_on, keeper});
}

}  // namespace
}  // namespace parley::sdk
