#include "services/gateway/ws_session.h"

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include "common/async.h"
#include "common/error_map.h"
#include "common/json_fields.h"
#include "common/log.h"
#include "common/time.h"
#include "services/chat/chat_json.h"
#include "services/gateway/client_frame.h"
#include "services/gateway/gateway.h"

namespace parley::services {

namespace asio = boost::asio;
namespace beast = boost::beast;

namespace {
constexpr int kReplayPage = 200;
constexpr int kBaselineConversations = 1000;  // most recent; older ones order from their first event
constexpr int kMaxInflight = 256;  // concurrent requests per connection; reading pauses beyond
// Bytes handed to the socket and not yet written; beyond it frames wait in the outbox (where
// ws_max_outbox_bytes bounds them).
constexpr size_t kMaxWriteBytes = 256 * 1024;
constexpr size_t kMaxHeldReceipts = 4096;  // keys per window; beyond, receipts go at once

}  // namespace

Frame MakeFrame(const boost::json::object& o) {
  return std::make_shared<const std::string>(boost::json::serialize(o));
}

Frame MessageFrame(const boost::json::value& message) {
  std::string text = R"({"type":"message","message":)";
  text += boost::json::serialize(message);
  text += '}';
  return std::make_shared<const std::string>(std::move(text));
}

namespace {
transport::WsConnectionOptions ConnectionOptions(const Config& cfg) {
  transport::WsConnectionOptions o;
  o.max_message_bytes = cfg.max_request_body_bytes;
  o.idle_timeout = std::chrono::milliseconds(cfg.ws_idle_timeout_ms);
  return o;
}
}  // namespace

// The socket leaves Beast's stream (and its timer) here: the connection keeps only the socket.
WsSession::WsSession(Gateway& gateway, beast::tcp_stream stream, transport::Principal principal)
    : gw_(gateway),
      conn_(stream.release_socket(), ConnectionOptions(gateway.ctx().config)),
      principal_(std::move(principal)) {}

void WsSession::DeliverMessage(Frame frame, const std::string& conversation_id, int64_t seq) {
  asio::post(executor(), [self = shared_from_this(), frame = std::move(frame),
                                  conversation_id, seq]() mutable {
    if (self->closed_) return;
    if (self->replaying_) {
      self->held_.emplace_back(std::move(frame), conversation_id, seq);
      return;
    }
    self->DeliverInOrder(std::move(frame), conversation_id, seq);
  });
}

void WsSession::NoteOwnMessage(const std::string& conversation_id, int64_t seq) {
  asio::post(executor(), [self = shared_from_this(), conversation_id, seq] {
    if (self->closed_ || self->replaying_) return;  // the replay's baseline covers it
    self->NoteOwnSeq(conversation_id, seq);
  });
}

void WsSession::DeliverToDevice(Frame frame, int64_t id) {
  asio::post(executor(), [self = shared_from_this(), frame = std::move(frame), id]() mutable {
    if (self->closed_) return;
    if (self->replaying_) {
      self->held_to_device_.emplace_back(std::move(frame), id);
      return;
    }
    if (id <= self->sent_to_device_) return;
    self->sent_to_device_ = id;
    self->Enqueue(std::move(frame));
  });
}

void WsSession::Send(Frame frame) {
  asio::post(executor(), [self = shared_from_this(), frame = std::move(frame)]() mutable {
    if (!self->closed_) self->Enqueue(std::move(frame));
  });
}

void WsSession::SendReceipt(Frame frame, std::string key, int64_t up_to_seq) {
  asio::post(executor(), [self = shared_from_this(), frame = std::move(frame),
                                  key = std::move(key), up_to_seq]() mutable {
    if (self->closed_) return;
    const bool coalesce = self->gw_.ctx().config.ws_receipt_window_ms > 0;
    if (!self->receipt_window_ || !coalesce) {
      self->Enqueue(std::move(frame));
      if (!coalesce) return;
      self->receipt_window_ = true;
      asio::co_spawn(self->executor(), self->ReceiptWindow(), asio::detached);
      return;
    }
    if (!self->held_receipts_) {
      self->held_receipts_ = std::make_unique<std::unordered_map<std::string, HeldReceipt>>();
    }
    auto& held = *self->held_receipts_;
    auto it = held.find(key);
    if (it == held.end()) {
      if (held.size() >= kMaxHeldReceipts) {
        self->Enqueue(std::move(frame));
        return;
      }
      held.emplace(std::move(key), HeldReceipt{std::move(frame), up_to_seq});
    } else if (up_to_seq > it->second.up_to_seq) {
      it->second = {std::move(frame), up_to_seq};
    }
  });
}

asio::awaitable<void> WsSession::ReceiptWindow() {
  auto self = shared_from_this();
  asio::steady_timer t(executor());
  while (!closed_) {
    t.expires_after(std::chrono::milliseconds(gw_.ctx().config.ws_receipt_window_ms));
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    if (closed_ || !held_receipts_ || held_receipts_->empty()) break;
    for (auto& [key, held] : *held_receipts_) Enqueue(std::move(held.frame));
    held_receipts_->clear();
  }
  held_receipts_.reset();
  receipt_window_ = false;
}

void WsSession::Close(uint16_t code, std::string reason) {
  asio::post(executor(), [self = shared_from_this(), code, reason] {
    if (self->closed_) return;
    self->closed_ = true;
    self->DropOutbox();
    self->conn_.Close(code, reason);
  });
}

void WsSession::Drain(uint16_t code, std::string reason, std::function<void()> done) {
  asio::post(executor(), [self = shared_from_this(), code, reason = std::move(reason),
                                  done = std::move(done)]() mutable {
    if (self->closed_ || self->draining_) {
      done();
      return;
    }
    self->draining_ = true;
    self->drain_code_ = code;
    self->drain_reason_ = reason;
    self->drain_done_ = std::move(done);
    if (self->inflight_ == 0) {
      self->drain_closing_ = true;
      asio::co_spawn(self->executor(), self->FinishDrain(), asio::detached);
    }
  });
}

asio::awaitable<void> WsSession::FinishDrain() {
  auto self = shared_from_this();
  asio::steady_timer t(executor());
  // Answers of the requests that just finished are in the outbox: let them go out first.
  for (int i = 0; i < 500 && (outbox_ || conn_.pending_bytes() > 0) && !closed_; ++i) {
    t.expires_after(std::chrono::milliseconds(10));
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  Close(drain_code_, drain_reason_);
  if (auto done = std::move(drain_done_)) done();
}

void WsSession::EnqueueMessage(Frame frame, const std::string& conversation_id, int64_t seq) {
  int64_t& sent = sent_seq_[conversation_id];
  if (seq <= sent) return;  // the replay already sent it
  sent = seq;
  Enqueue(std::move(frame));
}

bool WsSession::CloseIfExpired() {
  if (NowMs() < principal_.exp * 1000) return false;
  Close(kCloseTokenExpired, "token expired");
  return true;
}

void WsSession::Enqueue(Frame frame) {
  if (CloseIfExpired()) return;  // its messages stay pending for the next connection
  if (!outbox_ && conn_.pending_bytes() < kMaxWriteBytes) {
    conn_.SendText(*frame);  // leaves with everything else queued in this turn
    return;
  }
  if (!outbox_) outbox_ = std::make_unique<std::deque<Frame>>();
  outbox_bytes_ += frame->size();
  outbox_->push_back(std::move(frame));
  if (outbox_bytes_ > gw_.ctx().config.ws_max_outbox_bytes) {
    LogWarn("websocket client too slow; closing",
            {{"device_id", principal_.device_id}, {"outbox_bytes", outbox_bytes_}});
    Close(transport::kWsClosePolicy, "client too slow");
  }
}

void WsSession::OnWsWritten() {
  if (!outbox_) return;
  while (!outbox_->empty() && conn_.pending_bytes() < kMaxWriteBytes) {
    Frame f = std::move(outbox_->front());
    outbox_->pop_front();
    outbox_bytes_ -= f->size();
    conn_.SendText(*f);
  }
  if (outbox_->empty()) DropOutbox();
}

void WsSession::DropOutbox() {
  outbox_.reset();
  outbox_bytes_ = 0;
  if (outbox_drained_) outbox_drained_->cancel();  // the replay's wait ends
}

void WsSession::Reply(const boost::json::object& frame) { Enqueue(MakeFrame(frame)); }

void WsSession::ReplyError(const boost::json::value& ref, const Error& e) {
  boost::json::object f{
      {"type", "error"},
      {"error", {{"code", CodeName(e.code)}, {"message", transport::ClientMessage(e)}}}};
  if (!ref.is_null()) f["ref"] = ref;
  Reply(f);
}

void WsSession::Start(std::string handshake) {
  auto self = shared_from_this();
  // In the hub before the connection starts, so that OnWsClosed (which may come at once, from
  // Start itself) always has an opened session to close.
  gw_.hub().Add(self);
  gw_.SessionOpened(principal_);
  conn_.Start(self, std::move(handshake));
  if (conn_.ended()) return;
  Reply({{"type", "ready"}, {"user_id", principal_.user_id}, {"device_id", principal_.device_id}});
  asio::co_spawn(executor(), Replay(), asio::detached);
}

void WsSession::OnWsClosed() {
  closed_ = true;
  DropOutbox();
  gw_.hub().Remove(this);
  gw_.SessionClosed(principal_);
  gw_.ctx().auth_store.TouchDevice(principal_.device_id, NowMs(), [](Result<Unit>) {});
}

asio::awaitable<void> WsSession::Replay() {
  auto self = shared_from_this();
  auto& store = gw_.ctx().message_store;
  // Where each conversation stood before the replay: everything up to there that this device
  // should get is delivered or in the replay, so live messages are ordered from there on.
  auto before = co_await OnPool(gw_.ctx().blocking, [&] {
    return store.ListConversations(principal_.user_id, kBaselineConversations);
  });
  while (!closed_) {
    auto page = co_await OnPool(gw_.ctx().blocking, [&] {
      return store.Pending(principal_.user_id, principal_.device_id, kReplayPage, sent_seq_,
                           sent_to_device_);
    });
    if (closed_) co_return;
    if (!page.ok()) {
      LogError("replay failed", {{"error", page.error().message}});
      Close(transport::kWsCloseTryAgainLater, "try again later");
      co_return;
    }
    for (const auto& m : page->messages) {
      EnqueueMessage(MessageFrame(MessageToJson(m)),
                     m.conversation_id, m.seq);
    }
    for (const auto& t : page->to_device) {
      boost::json::object f = ToDeviceToJson(t);
      f["type"] = "to_device";
      sent_to_device_ = std::max(sent_to_device_, t.id);
      Enqueue(MakeFrame(f));
    }
    if (!page->has_more) break;
    // Let the client take this page before reading the next.
    while (outbox_ && !closed_) {
      asio::steady_timer drained(executor(), asio::steady_timer::time_point::max());
      outbox_drained_ = &drained;
      co_await drained.async_wait(asio::as_tuple(asio::use_awaitable));
      outbox_drained_ = nullptr;
    }
  }
  replaying_ = false;
  if (before.ok()) {
    for (const auto& c : *before) {
      int64_t& sent = sent_seq_[c.conversation.conversation_id];
      sent = std::max(sent, c.conversation.last_seq);
    }
  }
  for (auto& [frame, conv, seq] : held_) DeliverInOrder(std::move(frame), conv, seq);
  held_.clear();
  held_.shrink_to_fit();
  for (auto& [frame, id] : held_to_device_) {
    if (id <= sent_to_device_) continue;  // the replay sent it
    sent_to_device_ = id;
    Enqueue(std::move(frame));
  }
  held_to_device_.clear();
  if (gw_.routed()) asio::co_spawn(executor(), SettleReplay(), asio::detached);
}

void WsSession::OnWsMessage(transport::WsEvent::Kind kind, std::string payload) {
  if (closed_) return;
  if (kind != transport::WsEvent::Kind::kText) {
    ReplyError(nullptr, MakeError(ErrorCode::kInvalidArgument, "frames must be JSON text"));
    return;
  }
  if (CloseIfExpired()) return;
  if (++inflight_ >= kMaxInflight) conn_.PauseReading();
  asio::co_spawn(executor(), Handle(std::move(payload)),
                 [self = shared_from_this()](std::exception_ptr e) {
                   if (e) {
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       LogError("websocket handler failed", {{"error", ex.what()}});
                     }
                   }
                   if (--self->inflight_ < kMaxInflight) self->conn_.ResumeReading();
                   if (self->draining_ && self->inflight_ == 0 && !self->drain_closing_) {
                     self->drain_closing_ = true;
                     asio::co_spawn(self->executor(), self->FinishDrain(), asio::detached);
                   }
                 });
}

asio::awaitable<void> WsSession::Handle(std::string text) {
  auto self = shared_from_this();
  boost::json::value ref = nullptr;
  auto frame = ParseClientFrame(text, &ref);
  if (!frame.ok()) {
    ReplyError(ref, frame.error());
    co_return;
  }
  if (draining_) {
    // Not started, so certainly not stored: the client sends it again after reconnecting.
    ReplyError(ref, MakeError(ErrorCode::kUnavailable, "server is restarting; send again"));
    co_return;
  }
  const ClientFrameType type = frame->type;
  if (type == ClientFrameType::kSend) {
    auto r = co_await gw_.chat().Send(principal_, frame->fields);
    if (closed_) co_return;
    if (!r.ok()) {
      ReplyError(ref, r.error());
      co_return;
    }
    const auto& m = r->message;
    boost::json::object ack{{"type", "ack"},
                            {"message_id", m.message_id},
                            {"conversation_id", m.conversation_id},
                            {"seq", m.seq},
                            {"created_at", m.created_at},
                            {"duplicate", r->duplicate}};
    if (!ref.is_null()) ack["ref"] = ref;
    Reply(ack);
    NoteOwnSeq(m.conversation_id, m.seq);
  } else if (type == ClientFrameType::kMarkDelivered || type == ClientFrameType::kMarkRead) {
    Status st =
        co_await gw_.chat().Mark(principal_, frame->fields, type == ClientFrameType::kMarkRead);
    if (closed_) co_return;
    if (!st.ok()) {
      ReplyError(ref, st.error());
    } else if (!ref.is_null()) {
      Reply({{"type", "ack"}, {"ref", ref}});
    }
  } else if (type == ClientFrameType::kAckToDevice) {
    // Only what this connection has sent can be acknowledged: a larger id is clamped, so a
    // client can never delete a message it was not given (the device is the principal's, so
    // another device's queue is out of reach).
    int64_t up_to = std::min(frame->up_to_id, sent_to_device_);
    if (up_to > 0) {
      Status st = co_await gw_.chat().AckToDevice(principal_, up_to);
      if (closed_) co_return;
      if (!st.ok()) {
        ReplyError(ref, st.error());
        co_return;
      }
    }
    if (!ref.is_null()) Reply({{"type", "ack"}, {"ref", ref}});
  } else if (type == ClientFrameType::kTyping) {
    // Ephemeral and cluster-wide (a bus event): a connection relays at most kTypingPerSecond;
    // the rest are dropped silently (a client repeats typing while the user types anyway).
    const int64_t now = NowMs();
    if (now - typing_window_start_ms_ >= 1000) {
      typing_window_start_ms_ = now;
      typing_in_window_ = 0;
    }
    if (typing_in_window_ < kTypingPerSecond) {
      ++typing_in_window_;
      gw_.RelayTyping(principal_, frame->conversation_id);
    }
  } else {
    boost::json::object pong{{"type", "pong"}};
    if (!ref.is_null()) pong["ref"] = ref;
    Reply(pong);
  }
}

}  // namespace parley::services
