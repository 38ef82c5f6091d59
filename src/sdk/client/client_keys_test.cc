// Client key verification: safety numbers agree on both sides; a contact who reinstalls (same
// device, new keys) raises a key-change warning and marker until marked verified.
#include <gtest/gtest.h>

#include "sdk/client/client_test_util.h"

namespace parley::sdk {
namespace {

using namespace testing;

TEST(SdkClientKeys, SafetyNumbersAgreeAndKeyChangesAreFlagged) {
  TestServer server;
  ASSERT_TRUE(server.Start()) << server.log_path();
  Person alice = SignUp(server, "alice");
  Person bob = SignUp(server, "bob");
  auto a = alice.client->SafetyNumber(bob.username);
  auto b = bob.client->SafetyNumber(alice.username);
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_EQ(a->number.size(), 60u);
  EXPECT_EQ(a->number, b->number);
  EXPECT_FALSE(a->key_changed);
  ASSERT_OK(alice.client->SendText(bob.username, "before the reinstall"));

  // Bob reinstalls: a fresh profile resumes his device and publishes new keys for it.
  auto stored = bob.client->store().GetAccount();
  ASSERT_OK(stored);
  ASSERT_TRUE(stored->has_value());
  bob.client.reset();
  {
    auto fresh = OpenClient(server, bob.username + "-reinstalled");
    ASSERT_OK(fresh->store().SaveAccount(**stored));
  }
  auto bob2 = OpenClient(server, bob.username + "-reinstalled");
  ASSERT_OK(bob2->Sync());  // bootstraps the new identity

  EventLog log;
  log.Attach(*alice.client);
  const std::string after = "after the reinstall";
  ASSERT_OK(alice.client->SendText(bob.username, after));
  auto changed = alice.client->SafetyNumber(bob.username);
  ASSERT_OK(changed);
  EXPECT_TRUE(changed->key_changed);
  EXPECT_NE(changed->number, a->number);
  auto b2 = bob2->SafetyNumber(alice.username);
  ASSERT_OK(b2);
  EXPECT_EQ(b2->number, changed->number);
  EXPECT_EQ(Count(SyncTexts(*bob2, alice.username), after), 1);
  ASSERT_OK(alice.client->MarkVerified(bob.username));
  auto verified = alice.client->SafetyNumber(bob.username);
  ASSERT_OK(verified);
  EXPECT_FALSE(verified->key_changed);
}

}  // namespace
}  // namespace parley::sdk
