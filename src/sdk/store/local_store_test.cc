#include "sdk/store/local_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

namespace parley::sdk {
namespace {

class SdkStore : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/parley-store-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    auto s = LocalStore::Open(path());
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
    ASSERT_TRUE(store_->SaveAccount({"http://127.0.0.1:1", "me", "alice", "dev1", "a", "r", 0}).ok());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string path() const { return dir_ + "/client.db"; }

  LocalMessage Msg(const std::string& id, int64_t seq, const std::string& text,
                   const std::string& conv = "c1", const std::string& sender = "bob") {
    LocalMessage m;
    m.message_id = id;
    m.conversation_id = conv;
    m.seq = seq;
    m.sender_id = sender;
    m.sender_device_id = "d";
    m.created_at = 1000 + seq;
    m.plaintext = text;
    m.status = "received";
    return m;
  }
  std::vector<std::string> Ids(const Result<std::vector<LocalMessage>>& r) {
    std::vector<std::string> out;
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    if (r.ok())
      for (const auto& m : *r) out.push_back(m.message_id);
    return out;
  }

  std::string dir_;
  std::unique_ptr<LocalStore> store_;
};

TEST_F(SdkStore, FileIsPrivateAndReopens) {
  struct stat st{};
  ASSERT_EQ(::stat(path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  ASSERT_TRUE(store_->SetCursor("cur1").ok());
  store_.reset();
  auto again = LocalStore::Open(path());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*(*again)->GetCursor(), "cur1");
  auto acct = (*again)->GetAccount();
  ASSERT_TRUE(acct.ok() && acct->has_value());
  EXPECT_EQ((*acct)->username, "alice");
  ASSERT_TRUE((*again)->UpdateTokens("a2", "r2", 99).ok());
  EXPECT_EQ((*(*again)->GetAccount())->refresh_token, "r2");
}

TEST_F(SdkStore, DeduplicatesByMessageId) {
  auto first = store_->PutMessage(Msg("m1", 1, "hello"));
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(*first);
  auto again = store_->PutMessage(Msg("m1", 1, "hello"));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  EXPECT_EQ(Ids(store_->ListMessages("c1", 0, 10)).size(), 1u);
  auto conv = store_->GetConversation("c1");
  ASSERT_TRUE(conv.ok() && conv->has_value());
  EXPECT_EQ((*conv)->unread_count, 1);  // counted once
  EXPECT_EQ((*conv)->last_seq, 1);
  EXPECT_EQ(Ids(store_->Search("hello", "", 10)).size(), 1u);  // indexed once
}

TEST_F(SdkStore, UnreadAndMarkRead) {
  ASSERT_TRUE(store_->PutMessage(Msg("m1", 1, "a")).ok());
  ASSERT_TRUE(store_->PutMessage(Msg("m2", 2, "b")).ok());
  ASSERT_TRUE(store_->PutMessage(Msg("m3", 3, "mine", "c1", "me")).ok());
  EXPECT_EQ((*store_->GetConversation("c1"))->unread_count, 2);
  ASSERT_TRUE(store_->MarkRead("c1", 1).ok());
  EXPECT_EQ((*store_->GetConversation("c1"))->unread_count, 1);
  ASSERT_TRUE(store_->MarkRead("c1", 0).ok());  // never lowers
  EXPECT_EQ((*store_->GetConversation("c1"))->read_seq, 1);
  EXPECT_EQ(Ids(store_->ListMessages("c1", 3, 10)), (std::vector<std::string>{"m2", "m1"}));
}

TEST_F(SdkStore, SearchSemantics) {
  ASSERT_TRUE(store_->PutMessage(Msg("m1", 1, "The quick brown fox")).ok());
  ASSERT_TRUE(store_->PutMessage(Msg("m2", 2, "Crème brûlée for ÜNÏCODE fans")).ok());
  ASSERT_TRUE(store_->PutMessage(Msg("m3", 3, "brown bread", "c2")).ok());
  ASSERT_TRUE(store_->PutMessage(Msg("m4", 4, "ПРИВЕТ мир")).ok());
  LocalMessage sys = Msg("m5", 5, "brown system");
  sys.content_type = "system";
  ASSERT_TRUE(store_->PutMessage(sys).ok());

  EXPECT_EQ(Ids(store_->Search("brown", "", 10)), (std::vector<std::string>{"m3", "m1"}));
  EXPECT_EQ(Ids(store_->Search("quick bro", "", 10)), (std::vector<std::string>{"m1"}));  // prefix
  EXPECT_TRUE(Ids(store_->Search("bro quick", "", 10)).empty());  // only the last word is a prefix
  EXPECT_TRUE(Ids(store_->Search("quick b", "", 10)).empty());    // 1 char: whole words only
  EXPECT_EQ(Ids(store_->Search("brown", "c2", 10)), (std::vector<std::string>{"m3"}));
  EXPECT_EQ(Ids(store_->Search("creme brulee unicode", "", 10)), (std::vector<std::string>{"m2"}));
  EXPECT_EQ(Ids(store_->Search("привет", "", 10)), (std::vector<std::string>{"m4"}));
  EXPECT_TRUE(Ids(store_->Search("fox OR bread", "", 10)).empty());  // OR is a plain word
  EXPECT_EQ(Ids(store_->Search("\"fox\" NEAR(", "", 10)), (std::vector<std::string>{}));
  EXPECT_EQ(Ids(store_->Search("fox*", "", 10)), (std::vector<std::string>{"m1"}));
  EXPECT_EQ(Ids(store_->Search("brown", "", 1)), (std::vector<std::string>{"m3"}));  // limit
  auto none = store_->Search("!!! ...", "", 10);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(SdkStore, PendingDecryptThenDecrypted) {
  LocalMessage m = Msg("e1", 1, "");
  m.plaintext.reset();
  m.encryption = "e2ee-v1";
  m.pending_decrypt = true;
  m.raw_body = "CIPHERTEXT";
  ASSERT_TRUE(store_->PutMessage(m).ok());
  auto pending = store_->ListPendingDecrypt(10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].raw_body, "CIPHERTEXT");
  EXPECT_TRUE(Ids(store_->Search("secret", "", 10)).empty());
  ASSERT_TRUE(store_->SetDecrypted("e1", "a secret plan", "text", "").ok());
  EXPECT_TRUE(store_->ListPendingDecrypt(10)->empty());
  EXPECT_EQ(Ids(store_->Search("secret", "", 10)), (std::vector<std::string>{"e1"}));
  auto got = store_->GetMessage("e1");
  EXPECT_EQ(*(*got)->plaintext, "a secret plan");
  EXPECT_EQ((*got)->raw_body, "");
  EXPECT_EQ(store_->SetDecrypted("nope", "x", "text", "").error().code, ErrorCode::kNotFound);
}

TEST_F(SdkStore, OutboxKeepsOrder) {
  for (const char* id : {"c3", "c1", "c2"}) {
    OutboxEntry e;
    e.client_msg_id = id;
    e.conversation_id = "conv";
    e.body = std::string("body-") + id;
    ASSERT_TRUE(store_->AddOutbox(e).ok());
  }
  ASSERT_TRUE(store_->RemoveOutbox("c1").ok());
  auto list = store_->ListOutbox();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].client_msg_id, "c3");
  EXPECT_EQ((*list)[1].body, "body-c2");
}

TEST_F(SdkStore, ContactsAndConversations) {
  ASSERT_TRUE(store_->UpsertContact({"u1", "bob", "Bob"}).ok());
  EXPECT_EQ((*store_->FindContactByUsername("BOB"))->user_id, "u1");
  EXPECT_FALSE(store_->GetContact("u2")->has_value());
  LocalConversation c;
  c.conversation_id = "c9";
  c.type = "group";
  c.title = "Team";
  c.group_id = "g1";
  c.last_activity_at = 5;
  ASSERT_TRUE(store_->UpsertConversation(c).ok());
  ASSERT_TRUE(store_->PutMessage(Msg("m1", 1, "x", "c8")).ok());  // activity 1001
  auto list = store_->ListConversations();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].conversation_id, "c8");
  EXPECT_EQ((*list)[1].title, "Team");
}

TEST_F(SdkStore, StateStoreCommitIsAtomic) {
  std::string blob("\x00\x01\xff", 3);
  ASSERT_TRUE(store_->Commit({{"session", "b", blob}, {"session", "a", std::string("v")}}).ok());
  EXPECT_EQ(**store_->Get("session", "b"), blob);
  auto list = store_->List("session");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].first, "a");

  // A batch that fails part-way leaves nothing of itself behind.
  ASSERT_TRUE(store_->Commit({{"session", "a", std::nullopt}}).ok());  // erase works
  EXPECT_FALSE(store_->Get("session", "a")->has_value());
  ASSERT_TRUE(store_->Commit({{"session", "c", std::string("1")}}).ok());
  // Make the second write fail: a trigger aborts writes of kind "poison".
  store::Db probe;
  ASSERT_TRUE(probe.Open(path()).ok());
  ASSERT_TRUE(probe.Exec("CREATE TRIGGER poison BEFORE INSERT ON crypto_state "
                         "WHEN new.kind = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned'); END")
                  .ok());
  auto r = store_->Commit({{"session", "c", std::string("2")},
                           {"session", "d", std::string("new")},
                           {"poison", "x", std::string("boom")}});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(**store_->Get("session", "c"), "1");
  EXPECT_FALSE(store_->Get("session", "d")->has_value());
  // The store still works after the failed batch.
  ASSERT_TRUE(store_->Commit({{"session", "d", std::string("ok")}}).ok());
  EXPECT_EQ(**store_->Get("session", "d"), "ok");
}

}  // namespace
}  // namespace parley::sdk
