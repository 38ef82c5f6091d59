// WsSession's in-order live delivery (see DeliverInOrder in ws_session.h).
//
// Why: on one node, a conversation's MESSAGE_SENT events are published in commit order, which is
// seq order. With several nodes (Kafka), each node publishes after its own commit, so seq 7 from
// node 2 can arrive before seq 6 from node 1. Dropping the late 6 (as "already sent") would lose
// it for this device, since clients mark delivered up to the highest seq they got.
// How: a message above a gap is parked. The gap closes when the missing events arrive, when the
// missing seq is this device's own send (its ack, NoteOwnSeq), or, after kGapWait, from the
// store: seq s is committed only after s-1 is (the conversation row is locked while a seq is
// taken), so once s is visible everything below it is readable. A gap is never passed over
// (clients mark delivered up to the highest seq they get, so a seq passed would be lost for the
// device): one the store cannot fill is read again with back-off, and if it still cannot, the
// connection is closed (1013) and the next one's replay brings it.
#include <boost/asio.hpp>

#include "common/async.h"
#include "common/log.h"
#include "services/chat/chat_json.h"
#include "services/delivery/delivery_router.h"
#include "services/gateway/gateway.h"
#include "services/gateway/ws_session.h"

namespace parley::services {

namespace asio = boost::asio;

namespace {
constexpr auto kGapWait = std::chrono::milliseconds(30);  // most gaps close by themselves
constexpr int kFillPage = 500;
// Per conversation. Beyond it a live message is not parked (memory stays bounded); it is then
// missing from this connection, and a later gap fill or the next connection brings it.
constexpr size_t kMaxParked = 10000;
// A gap the store cannot fill yet — a read fails, or a committed seq is not readable (the
// Cassandra profile: its row's write failed and the sender has not retried yet) — is read again
// after kRetryFirst, doubling up to kRetryMost, for kRetryBound since the last progress; then
// the connection closes with 1013 (try again later). Never past the missing seq.
constexpr std::chrono::milliseconds kRetryFirst{50};
constexpr std::chrono::milliseconds kRetryMost{1000};
constexpr std::chrono::milliseconds kRetryBound{5000};
constexpr int kSettlePage = 200;
constexpr int kSettleRounds = 5;  // pages; what is left stays pending for the next connection
}  // namespace

void WsSession::DeliverInOrder(Frame frame, const std::string& conversation_id, int64_t seq) {
  auto it = sent_seq_.find(conversation_id);
  if (it != sent_seq_.end() && seq <= it->second + 1) {
    // The next seq, or a repeat (dropped by EnqueueMessage).
    EnqueueMessage(std::move(frame), conversation_id, seq);
    if (reorder_.count(conversation_id)) AdvanceInOrder(conversation_id);
    return;
  }
  // Above a gap, or a conversation this session has no baseline for (joined or created since
  // the connect): park it; FillGap finds the baseline and what is missing.
  Reorder& r = reorder_[conversation_id];
  if (r.parked.size() < kMaxParked) r.parked.emplace(seq, std::move(frame));
  if (it == sent_seq_.end()) {
    if (!r.filling) {
      r.filling = true;
      asio::co_spawn(executor(), FillGap(conversation_id), asio::detached);
    }
    return;
  }
  AdvanceInOrder(conversation_id);
  auto again = reorder_.find(conversation_id);
  if (again != reorder_.end() && !again->second.parked.empty() && !again->second.filling) {
    again->second.filling = true;
    asio::co_spawn(executor(), FillGap(conversation_id), asio::detached);
  }
}

void WsSession::NoteOwnSeq(const std::string& conversation_id, int64_t seq) {
  auto it = sent_seq_.find(conversation_id);
  if (it == sent_seq_.end()) return;  // no baseline: nothing to order against
  if (seq <= it->second) return;
  if (seq == it->second + 1 && !reorder_.count(conversation_id)) {
    it->second = seq;  // the common case: nothing parked
    return;
  }
  reorder_[conversation_id].own.insert(seq);
  AdvanceInOrder(conversation_id);
}

void WsSession::AdvanceInOrder(const std::string& conversation_id) {
  auto rit = reorder_.find(conversation_id);
  if (rit == reorder_.end()) return;
  Reorder& r = rit->second;
  int64_t& sent = sent_seq_[conversation_id];
  while (true) {
    while (!r.own.empty() && *r.own.begin() <= sent) r.own.erase(r.own.begin());
    while (!r.parked.empty() && r.parked.begin()->first <= sent) r.parked.erase(r.parked.begin());
    if (!r.own.empty() && *r.own.begin() == sent + 1) {
      sent++;
      continue;
    }
    if (!r.parked.empty() && r.parked.begin()->first == sent + 1) {
      auto node = r.parked.extract(r.parked.begin());
      EnqueueMessage(std::move(node.mapped()), conversation_id, node.key());
      continue;
    }
    break;
  }
  if (r.parked.empty() && r.own.empty() && !r.filling) {
    gw_.gap_seconds().ObserveSince(r.since);
    reorder_.erase(rit);
  }
}

asio::awaitable<void> WsSession::FillGap(std::string conversation_id) {
  auto self = shared_from_this();
  asio::steady_timer wait(executor());
  wait.expires_after(kGapWait);
  co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
  auto pause = kRetryFirst;
  auto stuck_since = std::chrono::steady_clock::now();
  while (!closed_) {
    const GapStep step = co_await FillGapStep(conversation_id);
    if (closed_ || step == GapStep::kDone) break;
    if (step == GapStep::kProgress) {
      pause = kRetryFirst;
      stuck_since = std::chrono::steady_clock::now();
      continue;
    }
    if (std::chrono::steady_clock::now() - stuck_since >= kRetryBound) {
      // What is parked stays pending for this device (it has not been sent): the next
      // connection's replay brings the gap and what follows it, in order.
      auto sent = sent_seq_.find(conversation_id);
      LogWarn("websocket gap not readable; closing so the client reconnects",
              {{"device_id", principal_.device_id}, {"conversation_id", conversation_id},
               {"after_seq", sent == sent_seq_.end() ? int64_t{-1} : sent->second}});
      Close(transport::kWsCloseTryAgainLater, "try again later");
      break;
    }
    wait.expires_after(pause);
    co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
    pause = std::min<std::chrono::milliseconds>(pause * 2, kRetryMost);
  }
  auto rit = reorder_.find(conversation_id);
  if (rit != reorder_.end()) {
    rit->second.filling = false;
    AdvanceInOrder(conversation_id);
  }
}

asio::awaitable<WsSession::GapStep> WsSession::FillGapStep(const std::string& conversation_id) {
  auto& store = gw_.ctx().message_store;
  const std::string user = principal_.user_id;
  if (!sent_seq_.count(conversation_id)) {
    // No baseline: the device has had nothing of this conversation in this session (a new
    // conversation, a group joined since the connect, or an old one the replay's baseline left
    // out). It has everything up to its own cursor (or up to where the user's range starts);
    // the fill brings the rest, so a late event below the first parked one is never passed.
    struct Base {
      int64_t joined_seq;
      int64_t cursor;
    };
    auto base = co_await OnPool(gw_.ctx().blocking, [&]() -> Result<Base> {
      auto membership = store.GetMembership(conversation_id, user);
      if (!membership.ok()) return membership.error();
      auto cursor = store.DeviceCursor(principal_.device_id, conversation_id);
      if (!cursor.ok()) return cursor.error();
      return Base{membership->joined_seq, *cursor};
    });
    if (closed_) co_return GapStep::kDone;
    if (!base.ok()) {
      LogWarn("websocket gap fill failed", {{"error", base.error().message}});
      co_return GapStep::kStuck;
    }
    int64_t& sent = sent_seq_[conversation_id];  // may have been set meanwhile
    sent = std::max(sent, std::max(base->joined_seq, base->cursor));
    AdvanceInOrder(conversation_id);
    co_return GapStep::kProgress;
  }
  auto rit = reorder_.find(conversation_id);
  if (rit == reorder_.end() || rit->second.parked.empty()) co_return GapStep::kDone;
  const int64_t from = sent_seq_[conversation_id];
  const int64_t to = rit->second.parked.begin()->first - 1;  // the gap is (from, to]
  if (to <= from) {
    AdvanceInOrder(conversation_id);
    co_return GapStep::kProgress;
  }
  // The gap's messages the user may see, from `lo` on (below the user's range: not theirs).
  struct Read {
    int64_t lo;
    std::vector<storage::Message> messages;
  };
  auto page = co_await OnPool(gw_.ctx().blocking, [&]() -> Result<Read> {
    auto membership = store.GetMembership(conversation_id, user);
    if (!membership.ok()) return membership.error();
    int64_t lo = std::max(from, membership->joined_seq);
    if (lo >= to) return Read{to, {}};
    auto h = store.History(conversation_id, lo + 1, to, lo, INT64_MAX, true,
                           static_cast<int>(std::min<int64_t>(to - lo, kFillPage)));
    if (!h.ok()) return h.error();
    return Read{lo, std::move(h->first)};
  });
  if (closed_) co_return GapStep::kDone;
  if (!page.ok()) {
    LogWarn("websocket gap fill failed", {{"error", page.error().message}});
    co_return GapStep::kStuck;
  }
  // Seqs are gapless and History answers every one in range, the device's own included: the
  // page runs lo+1, lo+2, … Sent only as far as that holds, so a seq missing from the page is
  // never passed (the device marks delivered up to the highest seq it gets).
  int64_t covered = page->lo;
  for (const auto& m : page->messages) {
    if (m.seq != covered + 1) break;
    covered = m.seq;
    if (m.sender_device_id == principal_.device_id) continue;  // its own: never delivered to it
    EnqueueMessage(MessageFrame(MessageToJson(m)), conversation_id, m.seq);
  }
  if (covered <= from) co_return GapStep::kStuck;  // seq from+1 is not readable (yet)
  int64_t& sent = sent_seq_[conversation_id];
  sent = std::max(sent, covered);
  AdvanceInOrder(conversation_id);
  co_return GapStep::kProgress;
}

asio::awaitable<void> WsSession::SettleReplay() {
  auto self = shared_from_this();
  auto& store = gw_.ctx().message_store;
  asio::steady_timer wait(executor());
  wait.expires_after(kSettleAfterConnect);
  co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
  for (int round = 0; round < kSettleRounds && !closed_; ++round) {
    // Copies: the session's thread goes on changing them while the pool reads.
    const storage::SeqFloors floors(sent_seq_.begin(), sent_seq_.end());
    const int64_t to_device_after = sent_to_device_;
    auto page = co_await OnPool(gw_.ctx().blocking, [&] {
      return store.Pending(principal_.user_id, principal_.device_id, kSettlePage, floors,
                           to_device_after);
    });
    if (closed_) co_return;
    if (!page.ok()) {
      // They stay pending: the next connection (or a gap fill) brings them.
      LogWarn("websocket settle read failed", {{"error", page.error().message}});
      co_return;
    }
    for (const auto& m : page->messages) {
      DeliverInOrder(MessageFrame(MessageToJson(m)), m.conversation_id, m.seq);
    }
    for (const auto& t : page->to_device) {
      if (t.id <= sent_to_device_) continue;
      boost::json::object f = ToDeviceToJson(t);
      f["type"] = "to_device";
      sent_to_device_ = t.id;
      Enqueue({MakeFrame(f)});
    }
    if (!page->has_more) break;
  }
}

}  // namespace parley::services
