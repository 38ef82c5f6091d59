// WsSession's in-order live delivery (ws_session_order.cc) against a store that cannot fill a gap
// yet: a committed seq whose row is missing (the Cassandra profile, its write failed and the
// sender has not retried) or a read that fails. Clients mark delivered up to the highest seq
// they get, so a session that sent past the gap would lose the missing message for good: it
// must wait, and past its bound close with 1013 (the next connection's replay brings it).
// A real session on a loopback socket; the gateway's services over an in-memory store.
#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/config.h"
#include "common/ids.h"
#include "common/metrics.h"
#include "common/time.h"
#include "events/inproc_bus.h"
#include "services/auth/auth_service.h"
#include "services/chat/chat_json.h"
#include "services/chat/chat_service.h"
#include "services/delivery/delivery_router.h"
#include "services/gateway/gateway.h"
#include "services/gateway/ws_session.h"
#include "services/presence/presence_service.h"
#include "storage/local/memory_cluster_state.h"
#include "storage/sqlite/sqlite_store.h"

namespace parley::services {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using storage::Done;
using storage::Message;

constexpr char kConv[] = "conv-gap";

// One conversation, bob's device caught up to `baseline` (nothing pending). History answers
// from the messages added, leaving out hidden seqs (a row that is not there) or failing
// altogether. Only what a session reads is answered; the rest is an internal error.
class GapStore final : public storage::MessageStore {
 public:
  void Add(int64_t seq) {
    std::lock_guard l(mu_);
    Message m;
    m.message_id = "m" + std::to_string(seq);
    m.conversation_id = kConv;
    m.seq = seq;
    m.sender_id = "alice";
    m.sender_device_id = "alice-d1";
    m.created_at = NowMs();
    m.content_type = "text";
    m.encryption = "none";
    m.body = "body " + std::to_string(seq);
    messages_[seq] = m;
  }
  Message Get(int64_t seq) {
    std::lock_guard l(mu_);
    return messages_.at(seq);
  }
  void SetBaseline(int64_t seq) {
    std::lock_guard l(mu_);
    baseline_ = seq;
  }
  void Hide(int64_t seq, bool hidden) {
    std::lock_guard l(mu_);
    if (hidden) hidden_.insert(seq);
    else hidden_.erase(seq);
  }
  // Bob's device cursor, and whether the conversation is among those the replay lists (false:
  // an old one beyond the replay's baseline).
  void SetCursor(int64_t seq, bool listed) {
    std::lock_guard l(mu_);
    cursor_ = seq;
    listed_ = listed;
  }
  void FailReads(bool fail) {
    std::lock_guard l(mu_);
    fail_ = fail;
  }
  int history_reads() {
    std::lock_guard l(mu_);
    return history_reads_;
  }

  Result<storage::Membership> GetMembership(std::string_view conversation_id,
                                            std::string_view user_id) override {
    storage::Membership m;
    m.conversation_id = std::string(conversation_id);
    m.user_id = std::string(user_id);
    return m;
  }
  Result<std::pair<std::vector<Message>, bool>> History(std::string_view, int64_t min_seq,
                                                        int64_t max_seq, int64_t after_seq,
                                                        int64_t before_seq, bool ascending,
                                                        int limit) override {
    std::lock_guard l(mu_);
    ++history_reads_;
    if (fail_) return MakeError(ErrorCode::kUnavailable, "store unavailable (test)");
    EXPECT_TRUE(ascending) << "the gap fill reads oldest first";
    std::pair<std::vector<Message>, bool> out{{}, false};
    for (const auto& [seq, m] : messages_) {
      if (seq < min_seq || seq > max_seq || seq <= after_seq || seq >= before_seq) continue;
      if (hidden_.count(seq)) continue;
      if (static_cast<int>(out.first.size()) == limit) {
        out.second = true;
        break;
      }
      out.first.push_back(m);
    }
    return out;
  }
  Result<std::vector<storage::ConversationSummary>> ListConversations(std::string_view user_id,
                                                                      int) override {
    std::lock_guard l(mu_);
    if (!listed_) return std::vector<storage::ConversationSummary>{};
    storage::ConversationSummary s;
    s.conversation.conversation_id = kConv;
    s.conversation.type = "direct";
    s.conversation.last_seq = baseline_;
    s.membership.conversation_id = kConv;
    s.membership.user_id = std::string(user_id);
    return std::vector<storage::ConversationSummary>{s};
  }
  Result<storage::PendingPage> Pending(std::string_view, std::string_view, int,
                                       const storage::SeqFloors&, int64_t) override {
    return storage::PendingPage{};  // the device is caught up to the baseline
  }
  Result<std::vector<std::string>> Contacts(std::string_view) override {
    return std::vector<std::string>{};
  }

  void Append(storage::AppendRequest, Done<storage::AppendResult> done) override {
    done(Unsupported());
  }
  Result<storage::Conversation> GetConversation(std::string_view) override {
    return Unsupported();
  }
  Result<Message> GetMessage(std::string_view) override { return Unsupported(); }
  void MarkReceipt(std::string, std::string, std::string, int64_t, bool, int64_t,
                   Done<storage::ReceiptChange> done) override {
    done(Unsupported());
  }
  Result<storage::MessageStatus> GetMessageStatus(std::string_view) override {
    return Unsupported();
  }
  void EnqueueToDevice(std::vector<storage::ToDeviceMessage>, storage::ToDeviceCap,
                       Done<std::vector<storage::ToDeviceMessage>> done) override {
    done(Unsupported());
  }
  void AckToDevice(std::string, int64_t, Done<Unit> done) override { done(Unsupported()); }
  Result<int64_t> DeviceCursor(std::string_view, std::string_view) override {
    std::lock_guard l(mu_);
    return cursor_;
  }
  Result<std::vector<std::string>> ActiveMembers(std::string_view) override {
    return Unsupported();
  }
  Result<bool> CanSeeMedia(std::string_view, std::string_view) override { return Unsupported(); }
  Result<bool> SharesConversation(std::string_view, std::string_view) override {
    return Unsupported();
  }
  Result<std::vector<storage::Membership>> Memberships(std::string_view) override {
    return Unsupported();
  }
  Result<std::vector<storage::Conversation>> ScanConversations(std::string_view, int) override {
    return Unsupported();
  }
  Status Ping() override { return OkStatus(); }

 private:
  static Error Unsupported() { return MakeError(ErrorCode::kInternal, "not in this test"); }

  std::mutex mu_;
  std::map<int64_t, Message> messages_;  // guarded by mu_, as the rest
  std::set<int64_t> hidden_;
  int64_t baseline_ = 0;
  int64_t cursor_ = 0;
  bool listed_ = true;
  bool fail_ = false;
  int history_reads_ = 0;
};

// The gateway's services over GapStore (auth and keys in a throwaway SQLite store), one
// WsSession for bob's device behind a loopback listener, and a client socket reading its frames.
class WsGapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("parley-ws-gap-" + NewUuidV4());
    std::filesystem::create_directories(dir_);
    sqlite_ = std::make_unique<storage::sqlite::SqliteStore>(
        storage::sqlite::SqliteOptions{(dir_ / "parley.db").string()});
    Status opened = sqlite_->Open();
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    limits_ = std::make_unique<RateLimits>(
        cfg_, [](const std::string&, double per_minute, double burst) {
          return std::make_unique<storage::MemoryRateLimiter>(per_minute, burst);
        });
    ctx_ = std::make_unique<Context>(
        Context{cfg_, *sqlite_, *sqlite_, store_, bus_, blocking_, metrics_, *limits_,
                deliveries_});
    auth_ = std::make_unique<AuthService>(
        *ctx_, auth::JwtSigner::FromSeed(std::string(32, 'k'), cfg_.issuer));
    chat_ = std::make_unique<ChatService>(*ctx_);
    presence_ = std::make_unique<PresenceService>(*ctx_, registry_, false);
    gateway_ = std::make_unique<Gateway>(*ctx_, *auth_, *chat_, *presence_);
    acceptor_.open(tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    asio::co_spawn(io_, Serve(), asio::detached);
    io_thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    if (auto s = session()) s->Close(1000, "test over");
    if (reader_.joinable()) reader_.join();
    if (presence_) presence_->Stop();
    io_.stop();
    if (io_thread_.joinable()) io_thread_.join();
    blocking_.join();
    if (sqlite_) sqlite_->Close();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  asio::awaitable<void> Serve() {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    auto [rec, n] = co_await http::async_read(stream, buffer, req,
                                              asio::as_tuple(asio::use_awaitable));
    if (rec) co_return;
    transport::Principal bob{"bob", "bob-d1", "jti-1", NowMs() / 1000 + 3600};
    auto s = std::make_shared<WsSession>(*gateway_, std::move(stream), bob);
    {
      std::lock_guard l(mu_);
      session_ = s;
    }
    cv_.notify_all();
    auto handshake = transport::WsAcceptResponse(req[http::field::sec_websocket_key],
                                                 req[http::field::sec_websocket_version], "test");
    if (!handshake.ok()) co_return;
    s->Start(std::move(*handshake));
  }

  std::shared_ptr<WsSession> session() {
    std::lock_guard l(mu_);
    return session_;
  }

  // Connects bob's client and reads its frames on a thread until the connection ends.
  void Connect() {
    client_.next_layer().connect(acceptor_.local_endpoint());
    client_.handshake("127.0.0.1", "/v1/ws");
    reader_ = std::thread([this] {
      beast::flat_buffer buffer;
      while (true) {
        beast::error_code ec;
        client_.read(buffer, ec);
        std::lock_guard l(mu_);
        if (ec) {
          closed_ = true;
          close_code_ = client_.reason().code;
          break;
        }
        frames_.push_back(boost::json::parse(beast::buffers_to_string(buffer.data())).as_object());
        buffer.consume(buffer.size());
        cv_.notify_all();
      }
      cv_.notify_all();
    });
    ASSERT_TRUE(WaitFor([&] { return !frames_.empty() && session_; }, std::chrono::seconds(5)));
    ASSERT_EQ(frames_.front().at("type").as_string(), "ready");
  }

  // Waits until `done` (called under mu_) holds; false after `timeout`.
  bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, timeout, done);
  }

  // The seqs of the message frames received so far, in order.
  std::vector<int64_t> SeqsLocked() const {
    std::vector<int64_t> out;
    for (const auto& f : frames_)
      if (f.at("type").as_string() == "message")
        out.push_back(f.at("message").at("seq").as_int64());
    return out;
  }
  std::vector<int64_t> Seqs() {
    std::lock_guard l(mu_);
    return SeqsLocked();
  }

  // The live event of seq (as the gateway gets it from the bus).
  void Deliver(int64_t seq) {
    session()->DeliverMessage(MessageFrame(MessageToJson(store_.Get(seq))), kConv, seq);
  }

  Config cfg_;
  std::filesystem::path dir_;
  std::unique_ptr<storage::sqlite::SqliteStore> sqlite_;
  GapStore store_;
  events::InProcessBus bus_;
  asio::thread_pool blocking_{2};
  Metrics metrics_;
  DeliveryRouter deliveries_{bus_, nullptr, metrics_};  // one node: broadcast
  std::unique_ptr<RateLimits> limits_;
  std::unique_ptr<Context> ctx_;
  storage::MemoryConnectionRegistry registry_;
  std::unique_ptr<AuthService> auth_;
  std::unique_ptr<ChatService> chat_;
  std::unique_ptr<PresenceService> presence_;
  std::unique_ptr<Gateway> gateway_;
  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  std::thread io_thread_;
  asio::io_context client_io_;
  websocket::stream<tcp::socket> client_{client_io_};
  std::thread reader_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<WsSession> session_;     // guarded by mu_, as the rest
  std::vector<boost::json::object> frames_;
  bool closed_ = false;
  uint16_t close_code_ = 0;
};

TEST_F(WsGapTest, AMissingRowIsWaitedForNeverPassed) {
  for (int64_t seq = 1; seq <= 3; ++seq) store_.Add(seq);
  store_.SetBaseline(1);
  store_.Hide(2, true);  // committed, its row not readable (yet)
  ASSERT_NO_FATAL_FAILURE(Connect());
  Deliver(3);  // seq 2's event is late (another node)
  // The gap fill reads the store after 30 ms and finds no seq 2: seq 3 must stay parked.
  EXPECT_FALSE(WaitFor([&] { return !SeqsLocked().empty(); }, std::chrono::milliseconds(600)))
      << "sent past the missing seq 2: " << ::testing::PrintToString(Seqs());
  EXPECT_GE(store_.history_reads(), 2) << "the gap fill reads again while it waits";
  store_.Hide(2, false);  // the sender's retry wrote the row
  ASSERT_TRUE(WaitFor([&] { return SeqsLocked().size() >= 2; }, std::chrono::seconds(5)));
  EXPECT_EQ(Seqs(), (std::vector<int64_t>{2, 3}));
  std::lock_guard l(mu_);
  EXPECT_FALSE(closed_);
}

TEST_F(WsGapTest, AGapTheStoreCannotReadClosesTheConnectionWith1013) {
  for (int64_t seq = 1; seq <= 3; ++seq) store_.Add(seq);
  store_.SetBaseline(1);
  store_.FailReads(true);
  ASSERT_NO_FATAL_FAILURE(Connect());
  const auto started = std::chrono::steady_clock::now();
  Deliver(3);
  ASSERT_TRUE(WaitFor([&] { return closed_; }, std::chrono::seconds(15)))
      << "still open; message seqs sent: " << ::testing::PrintToString(Seqs());
  const auto waited = std::chrono::steady_clock::now() - started;
  std::lock_guard l(mu_);
  EXPECT_EQ(close_code_, static_cast<uint16_t>(websocket::close_code::try_again_later));
  EXPECT_EQ(SeqsLocked(), std::vector<int64_t>{}) << "nothing past the unreadable seq 2";
  EXPECT_GE(waited, std::chrono::seconds(4)) << "it retried for its bound (5 s) first";
  EXPECT_GE(store_.history_reads(), 4);
}

// An old conversation the replay's baseline left out, far past the user's joined_seq: live events
// arrive out of order (1003, then 1002; 1001's is late). The gap fill starts at the device's
// cursor (1000), so 1001 is read from the store, not passed.
TEST_F(WsGapTest, AConversationWithoutBaselineStartsAtTheDevicesCursor) {
  for (int64_t seq = 1; seq <= 1003; ++seq) store_.Add(seq);
  store_.SetCursor(1000, /*listed=*/false);
  ASSERT_NO_FATAL_FAILURE(Connect());
  Deliver(1003);
  Deliver(1002);
  ASSERT_TRUE(WaitFor([&] { return SeqsLocked().size() >= 3; }, std::chrono::seconds(5)))
      << "sent: " << ::testing::PrintToString(Seqs());
  EXPECT_EQ(Seqs(), (std::vector<int64_t>{1001, 1002, 1003}));
}

}  // namespace
}  // namespace parley::services
