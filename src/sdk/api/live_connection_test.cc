#include "sdk/api/live_connection.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <vector>

#include "sdk/api/api_test_util.h"

namespace parley::sdk {
namespace {

using testing::NewUser;
using testing::TestServer;
using testing::TestUser;
namespace json = boost::json;
using namespace std::chrono_literals;

// Collects frames and connection states from a LiveConnection's thread.
class Recorder {
 public:
  void Attach(LiveConnection& c) {
    c.SetFrameCallback([this](const json::object& f) {
      std::lock_guard lock(mu_);
      frames_.push_back(f);
      cv_.notify_all();
    });
    c.SetStateCallback([this](bool connected, const Error&) {
      std::lock_guard lock(mu_);
      (connected ? ups_ : downs_)++;
      cv_.notify_all();
    });
  }
  // Waits for a frame of `type` matching `pred`.
  template <typename Pred>
  std::optional<json::object> WaitFrame(const std::string& type, Pred pred,
                                        std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    std::optional<json::object> found;
    cv_.wait_for(lock, timeout, [&] {
      for (const auto& f : frames_)
        if (JStr(f, "type") == type && pred(f)) {
          found = f;
          return true;
        }
      return false;
    });
    return found;
  }
  bool WaitUps(int n, std::chrono::milliseconds timeout = 15s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return ups_ >= n; });
  }
  bool WaitDowns(int n, std::chrono::milliseconds timeout = 15s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return downs_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<json::object> frames_;
  int ups_ = 0, downs_ = 0;
};

LiveOptions FastOptions() {
  LiveOptions o;
  o.initial_backoff = 100ms;
  o.max_backoff = 1s;
  o.ping_interval = 1s;
  return o;
}

TEST(SdkLive, ReceivesMessagesAndAnswersFrames) {
  TestServer server;
  ASSERT_TRUE(server.Start()) << server.log_path();
  TestUser a = NewUser(server, "lsend");
  TestUser b = NewUser(server, "lrecv");
  LiveConnection live(*b.api, FastOptions());
  Recorder rec;
  rec.Attach(live);
  ASSERT_OK(live.Start());
  ASSERT_TRUE(rec.WaitUps(1));
  EXPECT_TRUE(rec.WaitFrame("ready", [](auto&) { return true; }).has_value());

  OutgoingMessage m;
  m.to_user_id = b.user_id;
  m.client_msg_id = "live-1";
  m.body = "over the wire";
  auto sent = a.api->SendMessage(m);
  ASSERT_OK(sent);
  auto frame = rec.WaitFrame("message", [&](const json::object& f) {
    const auto* msg = JObj(f, "message");
    return msg && JStr(*msg, "message_id") == sent->message_id;
  });
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(MessageFromJson(*JObj(*frame, "message")).body, "over the wire");

  // A reply over the socket, acked by ref; mark_read acked; ping answered; typing queued.
  auto ack = live.SendAndWait(json::object{{"type", "send"},
                                           {"conversation_id", sent->conversation_id},
                                           {"client_msg_id", "reply-1"},
                                           {"body", "got it"}},
                              10s);
  ASSERT_OK(ack);
  EXPECT_EQ(JStr(*ack, "type"), "ack");
  EXPECT_EQ(JInt(*ack, "seq"), 2);
  EXPECT_EQ(live.pending_sends(), 0u);
  ASSERT_OK(live.SendAndWait(
      json::object{{"type", "mark_read"}, {"conversation_id", sent->conversation_id},
                   {"up_to_seq", 2}},
      10s));
  auto pong = live.SendAndWait(json::object{{"type", "ping"}}, 10s);
  ASSERT_OK(pong);
  EXPECT_EQ(JStr(*pong, "type"), "pong");
  // Keep the future alive: get() returns a reference into its shared state.
  auto typing = live.Send(json::object{{"type", "typing"}, {"conversation_id", sent->conversation_id}});
  ASSERT_OK(typing.get());
  // A server error frame comes back as the Error.
  auto bad = live.SendAndWait(json::object{{"type", "send"},
                                           {"conversation_id", NewUuidV4()},
                                           {"client_msg_id", "x"},
                                           {"body", "nowhere"}},
                              10s);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(live.pending_sends(), 0u);

  auto history = a.api->GetChatHistory(sent->conversation_id);
  ASSERT_OK(history);
  EXPECT_EQ(history->messages.front().body, "got it");
  live.Stop();
  EXPECT_FALSE(live.connected());
  EXPECT_EQ(live.Send(json::object{{"type", "ping"}}).get().error().code, ErrorCode::kUnavailable);
}

TEST(SdkLive, ReconnectsAndReplaysPendingSendOnce) {
  TestServer server;
  ASSERT_TRUE(server.Start()) << server.log_path();
  TestUser a = NewUser(server, "rsend");
  TestUser b = NewUser(server, "rrecv");
  OutgoingMessage first;
  first.to_user_id = b.user_id;
  first.client_msg_id = "r-0";
  first.body = "first";
  auto opened = a.api->SendMessage(first);
  ASSERT_OK(opened);
  const std::string conv = opened->conversation_id;

  LiveConnection live(*a.api, FastOptions());
  Recorder rec;
  rec.Attach(live);
  ASSERT_OK(live.Start());
  ASSERT_TRUE(rec.WaitUps(1));

  // Frozen server: the frame is written but never answered; then the server crashes.
  server.Pause();
  auto in_flight = live.Send(json::object{{"type", "send"}, {"conversation_id", conv},
                                          {"client_msg_id", "r-1"}, {"body", "in flight"}});
  std::this_thread::sleep_for(200ms);
  server.Kill();
  ASSERT_TRUE(rec.WaitDowns(1));
  EXPECT_FALSE(live.connected());
  // Sent while disconnected: queued behind the first.
  auto queued = live.Send(json::object{{"type", "send"}, {"conversation_id", conv},
                                       {"client_msg_id", "r-2"}, {"body", "while down"}});
  // Already stored by the server over HTTP: the replay must not store it twice.
  OutgoingMessage dup = first;
  dup.to_user_id.clear();
  dup.conversation_id = conv;
  auto dup_frame = ToJson(dup);
  dup_frame["type"] = "send";
  auto duplicate = live.Send(dup_frame);
  EXPECT_EQ(live.pending_sends(), 3u);
  std::this_thread::sleep_for(300ms);  // a reconnect attempt or two fail meanwhile

  ASSERT_TRUE(server.Start()) << server.log_path();  // same port, same data
  ASSERT_TRUE(rec.WaitUps(2));
  ASSERT_EQ(in_flight.wait_for(15s), std::future_status::ready);
  ASSERT_EQ(queued.wait_for(15s), std::future_status::ready);
  ASSERT_EQ(duplicate.wait_for(15s), std::future_status::ready);
  auto r1 = in_flight.get();
  auto r2 = queued.get();
  auto r0 = duplicate.get();
  ASSERT_OK(r1);
  ASSERT_OK(r2);
  ASSERT_OK(r0);
  EXPECT_EQ(JInt(*r1, "seq"), 2);  // replayed in order
  EXPECT_EQ(JInt(*r2, "seq"), 3);
  EXPECT_TRUE(JBool(*r0, "duplicate"));
  EXPECT_EQ(JStr(*r0, "message_id"), opened->message_id);
  EXPECT_EQ(live.pending_sends(), 0u);
  EXPECT_GE(live.connections(), 2);

  auto history = b.api->GetChatHistory(conv, 0, 0, 50);
  ASSERT_OK(history);
  std::vector<std::string> bodies;
  for (const auto& m : history->messages) bodies.push_back(m.body);
  EXPECT_EQ(bodies, (std::vector<std::string>{"while down", "in flight", "first"}));
  live.Stop();
}

}  // namespace
}  // namespace parley::sdk
