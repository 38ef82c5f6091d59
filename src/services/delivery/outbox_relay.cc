#include "services/delivery/outbox_relay.h"

#include "common/log.h"
#include "common/time.h"
#include "services/chat/message_events.h"

namespace parley::services {

namespace {

constexpr auto kFlushEvery = std::chrono::milliseconds(200);
constexpr int64_t kClaimMs = 30000;  // another node retries an entry taken this long ago
constexpr int kScanLimit = 500;
constexpr size_t kMaxAnnounced = 100000;  // held for removal while the store cannot be reached

}  // namespace

OutboxRelay::OutboxRelay(DeliveryRouter& deliveries, storage::MessageStore& store,
                         storage::MessageOutbox& outbox, Metrics& metrics)
    : deliveries_(deliveries),
      store_(store),
      outbox_(outbox),
      republished_(metrics.Counter("parley_outbox_republished_total",
                                   "Messages whose MESSAGE_SENT the outbox relay published "
                                   "again: unacknowledged kRepublishAfter (5 s) after commit")),
      unconfirmed_(metrics.Counter("parley_outbox_unconfirmed_total",
                                   "MESSAGE_SENT events the bus did not acknowledge (left to "
                                   "the relay)")) {}

OutboxRelay::~OutboxRelay() { Stop(); }

void OutboxRelay::Start() {
  thread_ = std::thread([this] { Run(); });
}

void OutboxRelay::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

events::ConfirmationPtr OutboxRelay::Track(const storage::Message& m) {
  storage::OutboxEntry entry{m.conversation_id, m.seq, m.message_id, m.created_at};
  return std::make_shared<events::Confirmation>([this, entry = std::move(entry)](bool ok) {
    if (!ok) {
      unconfirmed_.fetch_add(1, std::memory_order_relaxed);
      return;  // the entry stays: Republish takes it
    }
    std::lock_guard lock(mu_);
    if (announced_.size() < kMaxAnnounced) announced_.push_back(entry);
  });
}

void OutboxRelay::Run() {
  auto next_scan = std::chrono::steady_clock::now() + kScanEvery;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, kFlushEvery, [this] { return stopping_; });
    lock.unlock();
    Flush();
    if (std::chrono::steady_clock::now() >= next_scan) {
      Republish();
      next_scan = std::chrono::steady_clock::now() + kScanEvery;
    }
    lock.lock();
  }
  lock.unlock();
  Flush();
}

void OutboxRelay::Flush() {
  std::vector<storage::OutboxEntry> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(announced_);
  }
  if (batch.empty()) return;
  if (Status st = outbox_.MarkAnnounced(batch); !st.ok()) {
    LogWarn("outbox: cannot remove announced entries", {{"error", st.error().message},
                                                         {"entries", batch.size()}});
    std::lock_guard lock(mu_);
    for (auto& e : batch) {
      if (announced_.size() >= kMaxAnnounced) break;  // left: the relay announces them again
      announced_.push_back(std::move(e));
    }
  }
}

void OutboxRelay::Republish() {
  const int64_t before = NowMs() - kRepublishAfter.count();
  auto entries = outbox_.ClaimUnannounced(before, kClaimMs, kScanLimit);
  if (!entries.ok()) {
    LogWarn("outbox: cannot read unannounced messages", {{"error", entries.error().message}});
    return;
  }
  std::vector<storage::OutboxEntry> gone;
  for (const auto& e : *entries) {
    auto m = store_.GetMessage(e.message_id);
    if (!m.ok()) {
      if (m.error().code == ErrorCode::kNotFound) {
        gone.push_back(e);  // nothing to announce (its row never became readable)
      } else {
        LogWarn("outbox: cannot read a message to announce", {{"error", m.error().message}});
      }
      continue;
    }
    auto members = store_.ActiveMembers(e.conversation_id);
    if (!members.ok()) continue;  // taken again after kClaimMs
    LogInfo("outbox: announcing a message again", {{"conversation_id", e.conversation_id},
                                                   {"seq", e.seq}});
    PublishMessageSent(deliveries_, this, *m, *members);
    republished_.fetch_add(1, std::memory_order_relaxed);
  }
  if (!gone.empty()) (void)outbox_.MarkAnnounced(gone);
}

}  // namespace parley::services
