// WsSession: one device's WebSocket (/v1/ws), speaking the contract's frames.
//
// Lives on one I/O thread; every public method may be called from any thread and posts to it.
// Order of a connection: `ready`, then everything pending (replayed in pages), then live frames.
// Live messages that arrive during the replay are held and sent after it, skipping any seq the
// replay already sent, so each conversation reaches the device in seq order.
// A session serves only while its credentials are valid: it is closed when its device or the
// device's sessions are revoked, when its token is logged out (on any node), and at the first
// frame to or from it after its token expired (the client reconnects with a fresh one).
// The WebSocket itself is a transport::WsConnection (no buffer and no coroutine while idle).
// Outgoing frames go to it directly, and everything queued in one event-loop turn leaves in one
// socket write; past kMaxWriteBytes not yet written they wait in an outbox (allocated only then).
// A client that lets the outbox grow past ws_max_outbox_bytes is disconnected (1008) and gets its
// messages on the next connection: they stay pending.
// To-device messages are sent once per connection (sent_to_device_) and stay queued until the
// device acknowledges them (`ack_to_device`), so one not yet processed when the client crashes
// comes again on the next connection.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/json/fwd.hpp>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>

#include "common/result.h"
#include "transport/http_types.h"
#include "transport/ws_connection.h"

namespace parley::services {

class Gateway;
using Frame = std::shared_ptr<const std::string>;

// Close codes of a session whose credentials ended (docs/api.md): its device or all its device's
// sessions revoked; the access token it was opened with expired; that token logged out.
inline constexpr uint16_t kCloseRevoked = 4001;
inline constexpr uint16_t kCloseTokenExpired = 4002;
inline constexpr uint16_t kCloseLoggedOut = 4003;
// A frame serialized once, shared by every session it goes to.
Frame MakeFrame(const boost::json::object& o);
// {"type":"message","message":MESSAGE}, serialized without copying the message's JSON first.
Frame MessageFrame(const boost::json::value& message);

class WsSession : public std::enable_shared_from_this<WsSession>,
                  public transport::WsConnection::Owner {
 public:
  WsSession(Gateway& gateway, boost::beast::tcp_stream stream, transport::Principal principal);

  // Answers the upgrade with `handshake` (transport::WsAcceptResponse), joins the hub, sends
  // `ready` and starts the replay; the session then lives while its connection does. Call once,
  // on the stream's thread.
  void Start(std::string handshake);

  const transport::Principal& principal() const { return principal_; }

  // Thread-safe.
  void DeliverMessage(Frame frame, const std::string& conversation_id, int64_t seq);
  void DeliverToDevice(Frame frame, int64_t id);
  // A message this device sent itself (not delivered to it): keeps live delivery in order.
  void NoteOwnMessage(const std::string& conversation_id, int64_t seq);
  void Send(Frame frame);  // presence, typing, notifications: not tracked
  // A receipt frame for (conversation, user, kind) = `key` up to `up_to_seq`. The first one of
  // a quiet spell goes at once; those that follow within ws_receipt_window_ms are coalesced:
  // only the highest per key is sent when the window ends.
  void SendReceipt(Frame frame, std::string key, int64_t up_to_seq);
  void Close(uint16_t code, std::string reason);
  // Graceful close for a shutdown: requests already read finish and their answers are written;
  // frames read from now on get an `unavailable` error; then the close frame with `code`.
  // `done` runs (on the session's thread) once the answers are written and the close started.
  void Drain(uint16_t code, std::string reason, std::function<void()> done);

 private:
  // transport::WsConnection::Owner, on the session's thread:
  void OnWsMessage(transport::WsEvent::Kind kind, std::string payload) override;
  void OnWsWritten() override;  // moves what the outbox holds to the connection
  void OnWsClosed() override;   // leaves the hub; the session ends when its last task does

  boost::asio::any_io_executor executor() { return conn_.get_executor(); }
  // On the session's thread:
  // Whether the access token the session was opened with has expired: then it is closed
  // (kCloseTokenExpired) instead of serving the next frame either way.
  bool CloseIfExpired();
  void Enqueue(Frame frame);
  // Frees the outbox (sent, or dropped on close) and ends the replay's wait for it.
  void DropOutbox();
  void EnqueueMessage(Frame frame, const std::string& conversation_id, int64_t seq);
  // Live delivery in seq order (ws_session_order.cc). With several nodes, a conversation's events
  // can arrive out of seq order (each node publishes after its own commit). A message above a
  // gap is parked; the gap closes with the missing events, with this device's own sends (acks),
  // or, after a short wait, from the store, so the device gets every message once, in order.
  // A gap the store cannot fill within a bound closes the connection (1013): never passed over.
  void DeliverInOrder(Frame frame, const std::string& conversation_id, int64_t seq);
  void NoteOwnSeq(const std::string& conversation_id, int64_t seq);
  void AdvanceInOrder(const std::string& conversation_id);
  boost::asio::awaitable<void> FillGap(std::string conversation_id);
  // One read of FillGap: kProgress (the baseline set, or the gap narrowed), kDone (nothing
  // parked), or kStuck (the read failed, or the gap's first seq is not readable yet).
  enum class GapStep { kProgress, kDone, kStuck };
  boost::asio::awaitable<GapStep> FillGapStep(const std::string& conversation_id);
  boost::asio::awaitable<void> Replay();
  // Routed delivery only: what is pending, read once more kSettleAfterConnect after the replay,
  // for the live events another node addressed elsewhere before it knew of this connection
  // (services/delivery/delivery_router.h). Delivered in order, minus what was sent.
  boost::asio::awaitable<void> SettleReplay();
  boost::asio::awaitable<void> Handle(std::string text);
  void Reply(const boost::json::object& frame);
  void ReplyError(const boost::json::value& ref, const Error& e);
  // Closes once nothing is in flight and the outbox is written (bounded wait).
  boost::asio::awaitable<void> FinishDrain();
  boost::asio::awaitable<void> ReceiptWindow();

  Gateway& gw_;
  transport::WsConnection conn_;
  const transport::Principal principal_;
  // Frames waiting while kMaxWriteBytes are not yet written; null when none wait.
  std::unique_ptr<std::deque<Frame>> outbox_;
  size_t outbox_bytes_ = 0;
  boost::asio::steady_timer* outbox_drained_ = nullptr;  // the replay's wait: cancelled when empty
  bool closed_ = false;
  static constexpr int kTypingPerSecond = 5;  // typing frames relayed per connection per second
  int typing_in_window_ = 0;
  int64_t typing_window_start_ms_ = 0;
  bool replaying_ = true;
  std::vector<std::tuple<Frame, std::string, int64_t>> held_;  // live messages during replay
  std::vector<std::pair<Frame, int64_t>> held_to_device_;     // live to-device during replay
  std::unordered_map<std::string, int64_t> sent_seq_;         // highest seq sent per conversation
  struct Reorder {
    std::map<int64_t, Frame> parked;  // live messages above a gap, by seq
    std::set<int64_t> own;            // seqs of this device's own sends (never delivered to it)
    bool filling = false;             // FillGap is running
    std::chrono::steady_clock::time_point since = std::chrono::steady_clock::now();
  };
  std::unordered_map<std::string, Reorder> reorder_;  // conversations with a gap
  struct HeldReceipt {
    Frame frame;
    int64_t up_to_seq = 0;
  };
  // Receipts held during a window, by key; allocated when the first window opens.
  std::unique_ptr<std::unordered_map<std::string, HeldReceipt>> held_receipts_;
  bool receipt_window_ = false;  // ReceiptWindow is running
  int64_t sent_to_device_ = 0;
  int inflight_ = 0;
  bool draining_ = false;
  bool drain_closing_ = false;  // FinishDrain started
  uint16_t drain_code_ = 0;
  std::string drain_reason_;
  std::function<void()> drain_done_;
};

}  // namespace parley::services
