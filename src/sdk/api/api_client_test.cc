#include "sdk/api/api_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "common/encoding.h"
#include "sdk/api/api_test_util.h"

namespace parley::sdk {
namespace {

using testing::NewUser;
using testing::TestServer;
using testing::TestUser;

class SdkApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new TestServer();
    ASSERT_TRUE(server_->Start()) << "parleyd did not start; log: " << server_->log_path();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static TestServer* server_;
};
TestServer* SdkApi::server_ = nullptr;

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST_F(SdkApi, SignupLoginRefreshLogout) {
  TestUser a = NewUser(*server_, "alice");
  ASSERT_FALSE(a.user_id.empty());
  std::atomic<int> persisted{0};
  a.api->SetTokenCallback([&](const Tokens&) { ++persisted; });
  auto me = a.api->GetUser(a.user_id);
  ASSERT_OK(me);
  EXPECT_EQ(me->username, a.username);
  auto found = a.api->FindUser(a.username);
  ASSERT_OK(found);
  EXPECT_EQ(found->user_id, a.user_id);

  Tokens before = a.api->tokens();
  EXPECT_GT(before.expires_at, 0);
  auto t = a.api->RefreshTokens();
  ASSERT_OK(t);
  EXPECT_NE(t->refresh_token, before.refresh_token);
  EXPECT_EQ(persisted.load(), 1);
  ASSERT_OK(a.api->ListDevices());

  // Resume the same device with a second login.
  auto again = ApiClient::Create(ApiOptions{server_->url(), {}, {}});
  ASSERT_OK(again);
  auto l = (*again)->Login(a.username, a.password, "", a.device_id);
  ASSERT_OK(l);
  EXPECT_EQ(l->device_id, a.device_id);
  auto devices = (*again)->ListDevices();
  ASSERT_OK(devices);
  EXPECT_EQ(devices->size(), 1u);

  ASSERT_OK(a.api->Logout());
  auto after = a.api->GetUser(a.user_id);
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().code, ErrorCode::kUnauthenticated);
}

TEST_F(SdkApi, ErrorMapping) {
  TestUser a = NewUser(*server_, "err");
  auto dup = a.api->Signup(a.username, "another password");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::kConflict);
  EXPECT_FALSE(dup.error().message.empty());
  auto missing = a.api->GetUser(NewUuidV4());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  auto bad = a.api->Signup("NO SPACES!", "password123");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  auto wrong = a.api->Login(a.username, "wrong password");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::kUnauthenticated);

  auto anon = ApiClient::Create(ApiOptions{server_->url(), {}, {}});
  ASSERT_OK(anon);
  EXPECT_EQ((*anon)->ListConversations().error().code, ErrorCode::kUnauthenticated);

  // Nothing listens there: a network failure.
  ApiOptions o{"http://127.0.0.1:1", {}, {}};
  o.http.connect_timeout = std::chrono::milliseconds(500);
  auto down = ApiClient::Create(o);
  ASSERT_OK(down);
  EXPECT_EQ((*down)->Signup("someone", "password123").error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(ApiClient::Create(ApiOptions{"ftp://x", {}, {}}).error().code,
            ErrorCode::kInvalidArgument);
}

TEST_F(SdkApi, SendGetMessagesCursorHistory) {
  TestUser a = NewUser(*server_, "snd");
  TestUser b = NewUser(*server_, "rcv");
  OutgoingMessage m;
  m.to_user_id = b.user_id;
  m.client_msg_id = "c-1";
  m.body = "hello bob";
  auto sent = a.api->SendMessage(m);
  ASSERT_OK(sent);
  EXPECT_EQ(sent->seq, 1);
  EXPECT_FALSE(sent->duplicate);
  auto repeat = a.api->SendMessage(m);
  ASSERT_OK(repeat);
  EXPECT_TRUE(repeat->duplicate);
  EXPECT_EQ(repeat->message_id, sent->message_id);
  m.to_user_id.clear();
  m.conversation_id = sent->conversation_id;
  m.client_msg_id = "c-2";
  m.body = "second";
  ASSERT_OK(a.api->SendMessage(m));

  auto page = b.api->GetMessages("");
  ASSERT_OK(page);
  ASSERT_EQ(page->messages.size(), 2u);
  EXPECT_EQ(page->messages[0].body, "hello bob");
  EXPECT_EQ(page->messages[0].sender_id, a.user_id);
  EXPECT_EQ(page->messages[1].seq, 2);
  auto next = b.api->GetMessages(page->cursor);
  ASSERT_OK(next);
  EXPECT_TRUE(next->messages.empty());

  auto history = b.api->GetChatHistory(sent->conversation_id);
  ASSERT_OK(history);
  ASSERT_EQ(history->messages.size(), 2u);
  EXPECT_EQ(history->messages[0].body, "second");  // newest first
  auto older = b.api->GetChatHistory(sent->conversation_id, 0, 1);
  ASSERT_OK(older);
  ASSERT_EQ(older->messages.size(), 1u);

  auto convs = b.api->ListConversations();
  ASSERT_OK(convs);
  ASSERT_EQ(convs->size(), 1u);
  EXPECT_EQ((*convs)[0].type, "direct");
  EXPECT_EQ((*convs)[0].peer_user_id, a.user_id);
  ASSERT_OK(b.api->MarkRead(sent->conversation_id, 2));
  auto status = a.api->GetMessageStatus(sent->message_id);
  ASSERT_OK(status);
  EXPECT_EQ(status->status, "read");

  auto forbidden = b.api->GetMessageStatus(NewUuidV4());
  EXPECT_EQ(forbidden.error().code, ErrorCode::kNotFound);

  // To-device messages arrive with get-messages.
  auto queued = a.api->SendToDevice({{b.user_id, {{b.device_id, "key-exchange"}}}});
  ASSERT_OK(queued);
  EXPECT_EQ(*queued, 1);
  auto td = b.api->GetMessages(next->cursor);
  ASSERT_OK(td);
  ASSERT_EQ(td->to_device.size(), 1u);
  EXPECT_EQ(td->to_device[0].body, "key-exchange");
  EXPECT_EQ(td->to_device[0].sender_device_id, a.device_id);

  // Server-side search finds the plain message.
  std::vector<Message> results;
  for (int i = 0; i < 50 && results.empty(); ++i) {  // indexing is asynchronous
    auto r = b.api->SearchMessages("hel", sent->conversation_id);
    ASSERT_OK(r);
    results = *r;
    if (results.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].message_id, sent->message_id);
}

TEST_F(SdkApi, UploadDownloadStreamed) {
  TestUser a = NewUser(*server_, "up");
  TestUser b = NewUser(*server_, "other");
  std::string path = server_->root() + "/upload.bin";
  std::string content = RandomBytes(3 * 1024 * 1024 + 17);
  std::ofstream(path, std::ios::binary) << content;
  auto media = a.api->Upload(path, "application/octet-stream", "dir/näme 1.bin");
  ASSERT_OK(media);
  EXPECT_EQ(media->size, static_cast<int64_t>(content.size()));
  EXPECT_EQ(media->sha256, HexEncode(Sha256(content)));
  EXPECT_EQ(media->filename, "näme 1.bin");

  std::string out = server_->root() + "/download.bin";
  auto n = a.api->Download(media->media_id, out);
  ASSERT_OK(n);
  EXPECT_EQ(*n, content.size());
  EXPECT_TRUE(ReadFile(out) == content);

  std::string out2 = server_->root() + "/signed.bin";
  auto n2 = b.api->DownloadSigned(media->url, out2);
  ASSERT_OK(n2);
  EXPECT_TRUE(ReadFile(out2) == content);

  std::string out3 = server_->root() + "/denied.bin";
  auto denied = b.api->Download(media->media_id, out3);
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(out3));

  auto missing = a.api->Upload(server_->root() + "/no-such-file", "");
  EXPECT_EQ(missing.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(SdkApi, Groups) {
  TestUser a = NewUser(*server_, "own");
  TestUser b = NewUser(*server_, "mem");
  TestUser c = NewUser(*server_, "new");
  auto g = a.api->CreateGroup("Team", {b.user_id});
  ASSERT_OK(g);
  EXPECT_EQ(g->members.size(), 2u);
  EXPECT_EQ(g->members[0].role, "owner");
  auto added = a.api->AddMember(g->group_id, c.user_id, "admin");
  ASSERT_OK(added);
  EXPECT_EQ(added->members.size(), 3u);
  auto renamed = a.api->UpdateGroup(g->group_id, std::string("Team 2"));
  ASSERT_OK(renamed);
  EXPECT_EQ(renamed->name, "Team 2");
  auto removed = c.api->RemoveMember(g->group_id, b.user_id);
  ASSERT_OK(removed);
  EXPECT_EQ(removed->members.size(), 2u);
  auto denied = b.api->GetGroup(g->group_id);
  EXPECT_EQ(denied.error().code, ErrorCode::kForbidden);
  auto got = a.api->GetGroup(g->group_id);
  ASSERT_OK(got);
  EXPECT_EQ(got->conversation_id, g->conversation_id);
  OutgoingMessage m;
  m.conversation_id = g->conversation_id;
  m.client_msg_id = "g-1";
  m.body = "hi team";
  ASSERT_OK(a.api->SendMessage(m));
  auto page = c.api->GetMessages("");
  ASSERT_OK(page);
  EXPECT_FALSE(page->messages.empty());
  EXPECT_EQ(page->messages.back().body, "hi team");
}

TEST_F(SdkApi, PresenceAndNotifications) {
  TestUser a = NewUser(*server_, "pres");
  ASSERT_OK(a.api->UpdateStatus("busy", "in a meeting"));
  auto s = a.api->GetStatus({a.user_id});
  ASSERT_OK(s);
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ((*s)[0].user_id, a.user_id);
  EXPECT_FALSE((*s)[0].status.empty());  // "offline" while no device is connected
  // The server pushes only to public addresses: a loopback literal is refused, a name is kept
  // (resolved at each push).
  auto loopback = a.api->RegisterPush("http://127.0.0.1:9/push");
  ASSERT_FALSE(loopback.ok());
  EXPECT_EQ(loopback.error().code, ErrorCode::kInvalidArgument);
  ASSERT_OK(a.api->RegisterPush("https://push.example.com/device/1"));
  ASSERT_OK(a.api->Notifications());
}

class SdkApiShortTokens : public ::testing::Test {};

TEST_F(SdkApiShortTokens, RefreshBeforeExpiryAndOnceOn401) {
  TestServer server({"--access-token-ttl", "2"});
  ASSERT_TRUE(server.Start()) << server.log_path();
  TestUser a = NewUser(server, "ttl");
  std::atomic<int> refreshes{0};
  a.api->SetTokenCallback([&](const Tokens&) { ++refreshes; });
  std::string first = a.api->tokens().access_token;
  std::this_thread::sleep_for(std::chrono::milliseconds(2200));  // past expiry
  ASSERT_OK(a.api->GetUser(a.user_id));
  EXPECT_EQ(refreshes.load(), 1);
  EXPECT_NE(a.api->tokens().access_token, first);

  // A token the server rejects (expiry unknown to the client): one refresh, shared by every
  // caller racing on it, and each call retried once.
  Tokens t = a.api->tokens();
  t.access_token = "not-a-valid-token";
  t.expires_at = 0;
  a.api->SetSession(a.user_id, a.device_id, t);
  refreshes = 0;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      if (a.api->ListConversations().ok()) ++ok;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(refreshes.load(), 1);

  // A spent refresh token ends the session: kUnauthenticated.
  Tokens spent = a.api->tokens();
  spent.access_token = "bad";
  spent.expires_at = 0;
  spent.refresh_token = t.refresh_token;  // already used above
  a.api->SetSession(a.user_id, a.device_id, spent);
  EXPECT_EQ(a.api->GetUser(a.user_id).error().code, ErrorCode::kUnauthenticated);
}

}  // namespace
}  // namespace parley::sdk
