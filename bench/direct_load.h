// The engine of the `direct` scenario: every device sends 1:1 messages to its partner over its
// WebSocket, reads acks and the partner's messages, and marks what it received as delivered.
//
// Two ways to apply load:
//  - open loop (rate > 0): sends are scheduled by the clock, evenly spread over all devices, and
//    latency is measured from the *scheduled* time, so a stalled server cannot hide its stall
//    by slowing the generator down (no coordinated omission);
//  - saturation (rate == 0): each sending device keeps `window` sends outstanding; latency from
//    the actual send.
// Peers that have no target only read (group members who do not send, the hub of a preload).
// Every message body starts with "pb:<send time ns>:" so the recipient can time delivery.
//
// Threading: one Shard per pool thread owns the peers (devices) of that thread, their
// statistics and the receipt ticker; nothing is shared between threads except four atomic
// counters the main thread polls to know when the run has drained.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "accounts.h"
#include "conversations.h"
#include "fleet.h"
#include "histogram.h"
#include "wordlist.h"

namespace parley::bench {

struct DirectSettings {
  double rate = 0;              // messages/s over all sending devices; 0 = saturation
  int window = 16;              // saturation: outstanding sends per sending device
  int body_bytes = 64;
  // "none" (plaintext: the server indexes it for search) or "e2ee-v1" (ciphertext-sized bodies
  // of base64 characters, stored and relayed as they are, never indexed).
  std::string encryption = "none";
  std::string_view body_kind() const { return encryption == "none" ? "plaintext" : "e2ee-v1"; }
  // "sequential": each device's client_msg_ids count up (as time-ordered UUIDv7s do);
  // "random": they are scattered over the id space (as UUIDv4s are).
  std::string client_msg_ids = "sequential";
  int receipt_interval_ms = 10; // mark_delivered at most this often per conversation; 0 = off
  // Devices that receive each message (1 for direct; members - 1 for a group of one-device
  // users): how many recipient frames an acked message owes before the run counts as drained.
  int recipients_per_message = 1;
  uint64_t max_sends = 0;       // stop after this many sends in all (0 = no limit): preload
  // > 0: bodies are this many words of the Zipf vocabulary (wordlist.h) instead of a timestamp
  // and padding; such messages carry no send time, so no delivery latency is recorded.
  int body_words = 0;
  int vocabulary = 2000;
};

// A device the load drives: every one reads; those with a target also send there.
struct LoadPeer {
  int index = 0;  // into the fleet and the accounts
  std::optional<SendTarget> target;
};

// Absolute times (NowNs clock) of the run: load from start, measured in [measure, end).
struct Timeline {
  int64_t start_ns = 0;
  int64_t measure_ns = 0;
  int64_t end_ns = 0;
  bool measured(int64_t t) const { return t >= measure_ns && t < end_ns; }
};

struct DirectStats {
  Histogram ack_latency;       // send -> ack, sends whose (scheduled) time is in the window
  Histogram delivery_latency;  // send -> the recipient's message frame, same sends
  uint64_t sent = 0;
  uint64_t sent_in_window = 0;
  uint64_t acks = 0;
  uint64_t acks_in_window = 0;        // received during the window
  uint64_t deliveries = 0;
  uint64_t deliveries_in_window = 0;  // received during the window
  uint64_t duplicates = 0;            // message frames with a seq already seen
  uint64_t system_messages = 0;       // content_type "system" (group changes): not counted
  uint64_t self_echoes = 0;           // own messages sent back to the sending device
  uint64_t receipts = 0;
  uint64_t marks_sent = 0;
  uint64_t marks_in_window = 0;
  uint64_t unmatched_acks = 0;
  uint64_t send_errors = 0;
  uint64_t unparsable_frames = 0;
  uint64_t closed_connections = 0;
  uint64_t writes = 0;                // write syscalls of the generator
  std::map<std::string, uint64_t> errors;        // error frames by code
  std::map<std::string, uint64_t> other_frames;  // frames of other types, by type
  std::string first_close_reason;

  void Merge(const DirectStats& o);
};

class DirectLoad {
 public:
  // Both devices of every pair send to each other.
  DirectLoad(Fleet& fleet, const std::vector<Account>& accounts,
             const std::vector<DirectPair>& pairs, DirectSettings settings);
  // Any layout: groups (senders and listeners), a hub with spokes (preload).
  DirectLoad(Fleet& fleet, const std::vector<Account>& accounts,
             const std::vector<LoadPeer>& peers, DirectSettings settings);
  ~DirectLoad();

  // Installs the handlers and starts the load at timeline.start_ns on every thread.
  void Start(const Timeline& timeline);
  // Main thread: every measured send answered, and every acked one seen by its recipient.
  bool Drained() const;
  // Main thread, while running: measured sends and how many are still missing an ack/delivery.
  uint64_t measured_sent() const { return measured_sent_.load(std::memory_order_relaxed); }
  uint64_t measured_acked() const { return measured_acked_.load(std::memory_order_relaxed); }
  uint64_t missing_acks() const;
  uint64_t missing_deliveries() const;
  // Only after the pool has stopped: the statistics of all threads merged.
  DirectStats Collect() const;

 private:
  struct Peer;
  struct Shard;

  void OnFrame(Peer& p, std::string_view text);
  void OnAck(Peer& p, const boost::json::object& f);
  void OnError(Peer& p, const boost::json::object& f);
  void OnMessage(Peer& p, const boost::json::object& f);
  void AddPeer(const std::vector<Account>& accounts, const LoadPeer& lp, uint64_t salt);
  void Send(Peer& p, int64_t origin_ns);
  boost::asio::awaitable<void> RunShard(Shard& s);
  boost::asio::awaitable<void> Pace(Shard& s);
  boost::asio::awaitable<void> TickReceipts(Shard& s);

  Fleet& fleet_;
  const DirectSettings settings_;
  Timeline timeline_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<std::unique_ptr<Peer>> peers_;

  std::atomic<uint64_t> measured_sent_{0};
  std::atomic<uint64_t> measured_answered_{0};  // acked or refused
  std::atomic<uint64_t> measured_acked_{0};
  std::atomic<uint64_t> measured_delivered_{0};
  std::atomic<int64_t> send_budget_{0};
  std::unique_ptr<const ZipfSampler> zipf_;  // when settings_.body_words > 0  // sends left when settings_.max_sends > 0
};

}  // namespace parley::bench
