// WsSession's in-order live delivery (see DeliverInOrder in ws_session.h).
//
// Why: on one node, a conversation's MESSAGE_SENT events are published in commit order, which is
// seq order. With several nodes (Kafka), each node publishes after its own commit, so seq 7 from
// node 2 can arrive before seq 6 from node 1. Dropping the late 6 (as "already sent") would lose
// it for this device, since clients mark delivered up to the highest seq they got.
// How: a message above a gap is parked. The gap closes when the missing events arrive, when the
// missing seq is this device's own send (its ack, NoteOwnSeq), or, after kGapWait, from the
// store: seq s is committed only after s-1 is (the conversation row is locked while a seq is
// taken), so once s is visible everything below it is readable.
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
      asio::co_spawn(ws_.get_executor(), FillGap(conversation_id), asio::detached);
    }
    return;
  }
  AdvanceInOrder(conversation_id);
  auto again = reorder_.find(conversation_id);
  if (again != reorder_.end() && !again->second.parked.empty() && !again->second.filling) {
    again->second.filling = true;
    asio::co_spawn(ws_.get_executor(), FillGap(conversation_id), asio::detached);
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
  auto& store = gw_.ctx().message_store;
  asio::steady_timer wait(ws_.get_executor());
  wait.expires_after(kGapWait);
  co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
  if (!closed_ && !sent_seq_.count(conversation_id)) {
    // No baseline: the device has had nothing of this conversation in this session. It starts
    // where the user's visible range does (a new conversation, or a group joined since the
    // connect), unless that is far back (an old conversation the replay's baseline left out):
    // then from the first parked message, as before ordering existed.
    const std::string user = principal_.user_id;
    auto membership = co_await OnPool(gw_.ctx().blocking, [&] {
      return store.GetMembership(conversation_id, user);
    });
    if (closed_) co_return;
    auto rit = reorder_.find(conversation_id);
    int64_t first = rit != reorder_.end() && !rit->second.parked.empty()
                        ? rit->second.parked.begin()->first
                        : 1;
    int64_t base = membership.ok() ? membership->joined_seq : first - 1;
    if (first - 1 - base > kFillPage) base = first - 1;
    int64_t& sent = sent_seq_[conversation_id];  // may have been set meanwhile
    sent = std::max(sent, std::min(base, first - 1));
    AdvanceInOrder(conversation_id);
  }
  while (!closed_) {
    auto rit = reorder_.find(conversation_id);
    if (rit == reorder_.end() || rit->second.parked.empty()) break;
    const int64_t from = sent_seq_[conversation_id];
    const int64_t to = rit->second.parked.begin()->first - 1;  // the gap is (from, to]
    if (to <= from) {
      AdvanceInOrder(conversation_id);
      continue;
    }
    const std::string user = principal_.user_id;
    auto page = co_await OnPool(gw_.ctx().blocking,
                                [&]() -> Result<std::pair<std::vector<storage::Message>, bool>> {
      auto membership = store.GetMembership(conversation_id, user);
      if (!membership.ok()) return membership.error();
      int64_t lo = std::max(from, membership->joined_seq);
      if (lo >= to) return std::pair<std::vector<storage::Message>, bool>{{}, false};
      return store.History(conversation_id, lo + 1, to, lo, INT64_MAX, true,
                           static_cast<int>(std::min<int64_t>(to - lo, kFillPage)));
    });
    if (closed_) break;
    if (!page.ok()) {
      // Cannot read the gap: deliver what is parked rather than hold it (the messages stay
      // pending for this device and come back on its next connection).
      LogWarn("websocket gap fill failed", {{"error", page.error().message}});
      auto r = reorder_.find(conversation_id);
      if (r != reorder_.end()) sent_seq_[conversation_id] = r->second.parked.begin()->first - 1;
      AdvanceInOrder(conversation_id);
      continue;
    }
    int64_t covered = page->second && !page->first.empty() ? page->first.back().seq : to;
    for (const auto& m : page->first) {
      if (m.sender_device_id == principal_.device_id) continue;  // its own: never delivered to it
      EnqueueMessage(MessageFrame(MessageToJson(m)),
                     conversation_id, m.seq);
    }
    int64_t& sent = sent_seq_[conversation_id];
    sent = std::max(sent, covered);
    AdvanceInOrder(conversation_id);
  }
  auto rit = reorder_.find(conversation_id);
  if (rit != reorder_.end()) {
    rit->second.filling = false;
    AdvanceInOrder(conversation_id);
  }
}

asio::awaitable<void> WsSession::SettleReplay() {
  auto self = shared_from_this();
  auto& store = gw_.ctx().message_store;
  asio::steady_timer wait(ws_.get_executor());
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
