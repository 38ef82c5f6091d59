// Client: receiving. Sync (get-messages) and the live connection share one processing path:
// to-device messages first (they carry sender keys), then messages, decrypted and stored once
// (de-duplicated by message_id); those whose sender key has not arrived stay pending and are
// retried after later to-device messages.
#include <boost/json.hpp>

#include "sdk/client/client.h"
#include "sdk/client/client_payload.h"

namespace parley::sdk {

namespace json = boost::json;

namespace {
constexpr int kPageLimit = 200;
constexpr int kMaxPages = 1000;
constexpr char kUndecryptable[] = "undecryptable";

bool KeepPending(ErrorCode code) {
  // No sender key yet, or trouble on our side: the raw body stays and is retried later.
  return code == ErrorCode::kNotFound || code == ErrorCode::kInternal ||
         code == ErrorCode::kUnavailable;
}

void ApplyPlaintext(LocalMessage& m, const std::string& plaintext) {
  Payload p = DecodePayload(plaintext);
  m.plaintext = p.text;
  if (p.media) m.media_json = MediaDescriptorJson(*p.media);
}
}  // namespace

void Client::CollectKeyChanges(Events& ev) {
  if (!engine_) return;
  for (auto& k : engine_->TakeKeyChanges()) {
    (void)store_->SetMeta("key_changed:" + k.user_id, "1");
    ClientEvent e;
    e.kind = ClientEvent::Kind::kKeyChange;
    e.user_id = k.user_id;
    e.key_change = std::move(k);
    ev.push_back(std::move(e));
  }
}

Result<Unit> Client::ProcessToDevice(const ToDeviceMessage& t) {
  auto r = engine_->HandleToDevice(t.sender_id, t.sender_device_id, t.body);
  // Prekeys get used up by new sessions: top them up now and then (Bootstrap checks the count).
  if (++to_device_since_bootstrap_ >= 10) {
    to_device_since_bootstrap_ = 0;
    (void)engine_->Bootstrap();
  }
  if (!r.ok() && (r.error().code == ErrorCode::kUnavailable ||
                  r.error().code == ErrorCode::kRateLimited))
    return r.error();  // transient: do not acknowledge it, fetch it again later
  // Other errors mean the message cannot be used (replayed, forged, its prekey gone): drop it.
  return Unit{};
}

Result<Unit> Client::ProcessMessage(const Message& m, Events& ev, bool* pending) {
  *pending = false;
  auto known = store_->GetMessage(m.message_id);
  if (!known.ok()) return known.error();
  if (*known) return Unit{};  // a redelivery: already stored (and decrypted) once
  LocalMessage lm;
  lm.message_id = m.message_id;
  lm.conversation_id = m.conversation_id;
  lm.seq = m.seq;
  lm.sender_id = m.sender_id;
  lm.sender_device_id = m.sender_device_id;
  lm.created_at = m.created_at;
  lm.content_type = m.content_type.empty() ? "text" : m.content_type;
  lm.encryption = m.encryption.empty() ? "none" : m.encryption;
  lm.reply_to = m.reply_to;
  lm.status = m.sender_id == api_->user_id() ? "sent" : "received";
  if (lm.encryption == e2ee::kEncryptionE2eeV1) {
    auto plain = engine_->DecryptMessage(m.conversation_id, m.sender_id, m.sender_device_id,
                                         m.body);
    if (plain.ok()) {
      ApplyPlaintext(lm, *plain);
    } else if (KeepPending(plain.error().code)) {
      lm.pending_decrypt = true;
      lm.raw_body = m.body;
      *pending = true;
    } else {
      lm.status = kUndecryptable;
    }
  } else if (lm.encryption == "none") {
    lm.plaintext = m.body;
  } else {
    lm.status = kUndecryptable;
  }
  auto stored = store_->PutMessage(lm);
  if (!stored.ok()) return stored.error();
  if (*stored && !lm.pending_decrypt) {
    ClientEvent e;
    e.kind = ClientEvent::Kind::kMessage;
    e.message = std::move(lm);
    ev.push_back(std::move(e));
  }
  return Unit{};
}

void Client::RetryPending(Events& ev) {
  auto pending = store_->ListPendingDecrypt(kPageLimit);
  if (!pending.ok()) return;
  for (auto& m : *pending) {
    if (m.status == kUndecryptable) continue;
    auto plain = engine_->DecryptMessage(m.conversation_id, m.sender_id, m.sender_device_id,
                                         m.raw_body);
    if (!plain.ok()) {
      if (!KeepPending(plain.error().code))
        (void)store_->SetMessageStatus(m.message_id, kUndecryptable);
      continue;
    }
    ApplyPlaintext(m, *plain);
    if (!store_->SetDecrypted(m.message_id, *m.plaintext, m.content_type, m.media_json).ok())
      continue;
    m.pending_decrypt = false;
    m.raw_body.clear();
    ClientEvent e;
    e.kind = ClientEvent::Kind::kMessage;
    e.message = std::move(m);
    ev.push_back(std::move(e));
  }
}

Result<SyncReport> Client::Sync() {
  PARLEY_TRY(RequireSession());
  SyncReport report;
  auto flushed = FlushOutbox();
  if (!flushed.ok()) return flushed.error();
  report.sent_from_outbox = *flushed;
  auto cursor = store_->GetCursor();
  if (!cursor.ok()) return cursor.error();
  std::string after = *cursor;
  bool saw_new = false;
  // Every page is processed and stored before its cursor is passed back (which marks it
  // delivered); the last call, returning nothing, acknowledges the page before it.
  for (int i = 0; i < kMaxPages; ++i) {
    auto page = api_->GetMessages(after, kPageLimit);
    if (!page.ok()) return page.error();
    Events ev;
    {
      std::lock_guard lock(engine_mu_);
      auto engine = EngineLocked();
      if (!engine.ok()) return engine.error();
      for (const auto& t : page->to_device) PARLEY_TRY(ProcessToDevice(t));
      report.to_device += static_cast<int>(page->to_device.size());
      for (const auto& m : page->messages) {
        bool pending = false;
        PARLEY_TRY(ProcessMessage(m, ev, &pending));
      }
      if (!page->to_device.empty()) RetryPending(ev);
      CollectKeyChanges(ev);
    }
    for (const auto& e : ev)
      if (e.kind == ClientEvent::Kind::kMessage) report.messages.push_back(e.message);
    Dispatch(ev);
    if (!page->cursor.empty() && page->cursor != after) {
      PARLEY_TRY(store_->SetCursor(page->cursor));
      after = page->cursor;
    }
    if (page->messages.empty() && page->to_device.empty()) break;
    saw_new = saw_new || !page->messages.empty();
  }
  if (saw_new) (void)RefreshConversations();
  auto still = store_->ListPendingDecrypt(kPageLimit);
  if (still.ok())
    for (const auto& m : *still) report.pending += m.status != kUndecryptable;
  return report;
}

// --- live ---

Result<Unit> Client::StartLive() {
  PARLEY_TRY(RequireSession());
  {
    std::lock_guard lock(engine_mu_);
    auto engine = EngineLocked();
    if (!engine.ok()) return engine.error();
  }
  std::lock_guard lock(live_mu_);
  if (live_) return Unit{};
  auto live = std::make_unique<LiveConnection>(*api_, opts_.live);
  live->SetFrameCallback([this](const json::object& f) { OnFrame(f); });
  live->SetStateCallback([this](bool connected, const Error& why) {
    ClientEvent e;
    e.kind = ClientEvent::Kind::kConnection;
    e.connected = connected;
    e.reason = connected ? "" : why.message;
    Dispatch({e});
  });
  PARLEY_TRY(live->Start());
  live_ = std::move(live);
  return Unit{};
}

void Client::StopLive() {
  std::unique_ptr<LiveConnection> live;
  {
    std::lock_guard lock(live_mu_);
    live = std::move(live_);
  }
  if (live) live->Stop();
}

bool Client::live_connected() const {
  std::lock_guard lock(live_mu_);
  return live_ && live_->connected();
}

void Client::OnFrame(const json::object& f) {
  std::string type = JStr(f, "type");
  Events ev;
  if (type == "message") {
    const auto* mo = JObj(f, "message");
    if (!mo) return;
    Message m = MessageFromJson(*mo);
    Result<Unit> r = Unit{};
    {
      std::lock_guard lock(engine_mu_);
      if (!engine_) return;
      bool pending = false;
      r = ProcessMessage(m, ev, &pending);
      CollectKeyChanges(ev);
    }
    if (r.ok()) {  // stored: now it may count as delivered
      std::lock_guard lock(live_mu_);
      if (live_)
        (void)live_->Send(json::object{{"type", "mark_delivered"},
                                       {"conversation_id", m.conversation_id},
                                       {"up_to_seq", m.seq}});
    }
    auto known = store_->GetConversation(m.conversation_id);
    if (known.ok() && (!*known || (*known)->type.empty())) (void)RefreshConversations();
  } else if (type == "to_device") {
    // The server keeps a to-device message until it is acknowledged, and sends it once per
    // connection. Acknowledge it only once HandleToDevice committed its state (or the message
    // proved unusable); after a transient failure acknowledge nothing more on this connection
    // (acks are cumulative), so it comes again on the next one.
    ToDeviceMessage t = ToDeviceFromJson(f);
    int64_t ack = 0;
    {
      std::lock_guard lock(engine_mu_);
      if (!engine_) return;
      if (ProcessToDevice(t).ok()) {
        if (!live_to_device_held_ && t.id > 0) ack = t.id;
      } else {
        live_to_device_held_ = true;
      }
      RetryPending(ev);
      CollectKeyChanges(ev);
    }
    if (ack > 0) {
      std::lock_guard lock(live_mu_);
      if (live_) (void)live_->Send(json::object{{"type", "ack_to_device"}, {"up_to_id", ack}});
    }
  } else if (type == "ready") {
    std::lock_guard lock(engine_mu_);
    live_to_device_held_ = false;  // a new connection sends every unacknowledged one again
  } else if (type == "receipt") {
    ClientEvent e;
    e.kind = ClientEvent::Kind::kReceipt;
    e.conversation_id = JStr(f, "conversation_id");
    e.user_id = JStr(f, "user_id");
    e.receipt_kind = JStr(f, "kind");
    e.up_to_seq = JInt(f, "up_to_seq");
    e.at = JInt(f, "at");
    ev.push_back(std::move(e));
  } else if (type == "presence") {
    ClientEvent e;
    e.kind = ClientEvent::Kind::kPresence;
    e.presence = PresenceFromJson(f);
    e.user_id = e.presence.user_id;
    ev.push_back(std::move(e));
  } else if (type == "typing") {
    ClientEvent e;
    e.kind = ClientEvent::Kind::kTyping;
    e.conversation_id = JStr(f, "conversation_id");
    e.user_id = JStr(f, "user_id");
    ev.push_back(std::move(e));
  } else if (type == "group") {
    const auto* g = JObj(f, "group");
    if (!g) return;
    ClientEvent e;
    e.kind = ClientEvent::Kind::kGroup;
    e.group_event = JStr(f, "event");
    e.group = GroupFromJson(*g);
    bool member = false;
    for (const auto& m : e.group.members) member = member || m.user_id == api_->user_id();
    if (member) RememberGroup(e.group);
    ev.push_back(std::move(e));
  }
  Dispatch(ev);
}

Result<Unit> Client::MarkRead(const std::string& conversation_id, int64_t up_to_seq) {
  PARLEY_TRY(store_->MarkRead(conversation_id, up_to_seq));
  return api_->MarkRead(conversation_id, up_to_seq);
}

Result<Unit> Client::SendTyping(const std::string& conversation_id) {
  std::lock_guard lock(live_mu_);
  if (!live_) return MakeError(ErrorCode::kUnavailable, "not connected");
  (void)live_->Send(json::object{{"type", "typing"}, {"conversation_id", conversation_id}});
  return Unit{};
}

Result<Unit> Client::RefreshConversations() {
  auto convs = api_->ListConversations();
  if (!convs.ok()) return convs.error();
  for (const auto& c : *convs) {
    auto existing = store_->GetConversation(c.conversation_id);
    LocalConversation lc;
    if (existing.ok() && *existing) lc = **existing;
    lc.conversation_id = c.conversation_id;
    lc.type = c.type;
    lc.peer_user_id = c.peer_user_id;
    lc.group_id = c.group_id;
    lc.title = c.type == "direct" && !c.peer_user_id.empty() ? UserName(c.peer_user_id) : c.title;
    lc.last_activity_at = std::max(lc.last_activity_at, c.last_activity_at);
    PARLEY_TRY(store_->UpsertConversation(lc));
  }
  return Unit{};
}

}  // namespace parley::sdk
