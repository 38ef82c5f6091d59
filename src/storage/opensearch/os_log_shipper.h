// OsLogShipper: ships this node's log lines to OpenSearch (ELK-style: one index per day,
// "<prefix>logs-YYYY.MM.DD", every node writing to the same indices) and searches them for an
// admin (storage::LogSearch).
//
// Shipping never slows or blocks logging: Offer (the common/log.h tap) only serializes the line
// into a bounded in-memory queue (max_queue_lines / max_queue_bytes); past the bound a line is
// dropped and counted. One worker thread sends the queue in _bulk batches (batch_lines, at least
// every flush_interval_ms); while OpenSearch does not answer, the batch in hand is retried with a
// growing pause (up to 5 s) and new lines queue up to the bound, then drop. Documents are written
// with op_type create and ids unique per process (node, start time, counter), so a retried batch
// does not duplicate lines. A line OpenSearch refuses (other than as a duplicate) is counted as
// rejected, not retried. Stop sends what is queued (bounded by stop_timeout_ms).
//
// Document: @timestamp (date, ms), level (keyword), level_no (byte: 0 debug .. 3 error), node
// (keyword), msg (keyword), line (text: the whole JSON line, standard analyzer: searched by
// words), fields (flat_object: every other field of the line, exact values).
// Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "storage/log_search.h"
#include "storage/opensearch/os_http.h"

namespace parley::storage::opensearch {

struct LogShipperOptions {
  std::string host = "127.0.0.1";
  int port = 9200;
  std::string prefix = "parley-";
  std::string node_id = "node";
  int timeout_ms = 5000;            // per REST call
  size_t max_queue_lines = 20000;
  size_t max_queue_bytes = 16u << 20;
  size_t batch_lines = 1000;
  int flush_interval_ms = 1000;
  int stop_timeout_ms = 3000;
  int replicas = 1;                 // number_of_replicas of the log indices
};

class OsLogShipper final : public LogTap, public LogSearch {
 public:
  explicit OsLogShipper(LogShipperOptions options);
  ~OsLogShipper() override;

  // Installs the index template of the log indices (kUnavailable if the node does not answer)
  // and starts the worker. Call once, before SetLogTap(this).
  Status Start();
  // Sends what is queued (bounded by stop_timeout_ms) and stops the worker. Call after
  // SetLogTap(nullptr); later Offers are dropped.
  void Stop();

  void Offer(LogLevel level, int64_t at_ms, const boost::json::object& line,
             std::string_view text) noexcept override;
  Result<std::vector<LogHit>> SearchLogs(const LogQuery& q) override;

  uint64_t shipped() const { return shipped_.load(); }
  uint64_t dropped() const { return dropped_.load(); }    // queue full, or after Stop
  uint64_t rejected() const { return rejected_.load(); }  // refused by OpenSearch
  uint64_t failed_batches() const { return failed_batches_.load(); }

  // "<prefix>logs-YYYY.MM.DD" of a time (UTC).
  std::string DayIndex(int64_t at_ms) const;

 private:
  struct Line {
    int64_t at_ms;
    std::string doc;  // the document's JSON
  };
  void Run();
  // Sends one batch: ok once every line is stored or refused; kUnavailable to retry it.
  Status SendBatch(const std::vector<Line>& batch, uint64_t first_id);
  Status EnsureDayIndex(const std::string& name);

  const LogShipperOptions options_;
  const std::string id_base_;  // node-startms-
  std::unique_ptr<OsHttp> http_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Line> queue_;  // guarded by mu_
  size_t queue_bytes_ = 0;  // guarded by mu_
  bool stopping_ = false;   // guarded by mu_
  bool started_ = false;    // guarded by mu_
  std::thread worker_;
  std::set<std::string> known_indices_;  // day indices created; the worker's only

  std::atomic<uint64_t> shipped_{0}, dropped_{0}, rejected_{0}, failed_batches_{0};
};

}  // namespace parley::storage::opensearch
