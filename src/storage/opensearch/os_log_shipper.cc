// OsLogShipper: the queue, the worker and the _bulk writes (see os_log_shipper.h).
#include "storage/opensearch/os_log_shipper.h"

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>

#include "common/time.h"

namespace parley::storage::opensearch {

namespace json = boost::json;

namespace {

// The index template every day's log index takes (see os_log_shipper.h).
json::object LogTemplate(const std::string& prefix, int replicas) {
  return json::object{
      {"index_patterns", json::array{prefix + "logs-*"}},
      {"template",
       {{"settings", {{"number_of_shards", 1}, {"number_of_replicas", replicas}}},
        {"mappings",
         {{"dynamic", "strict"},
          {"properties",
           {{"@timestamp", {{"type", "date"}, {"format", "epoch_millis"}}},
            {"level", {{"type", "keyword"}}},
            {"level_no", {{"type", "byte"}}},
            {"node", {{"type", "keyword"}}},
            {"msg", {{"type", "keyword"}, {"ignore_above", 512}}},
            {"line", {{"type", "text"}}},
            {"fields", {{"type", "flat_object"}}}}}}}}}};
}

}  // namespace

OsLogShipper::OsLogShipper(LogShipperOptions options)
    : options_(std::move(options)),
      id_base_(options_.node_id + "-" + std::to_string(NowMs()) + "-"),
      http_(std::make_unique<OsHttp>(options_.host, options_.port, options_.timeout_ms)) {}

OsLogShipper::~OsLogShipper() { Stop(); }

std::string OsLogShipper::DayIndex(int64_t at_ms) const {
  return options_.prefix + "logs-" + OsIndexDate(at_ms, true);
}

Status OsLogShipper::Start() {
  auto r = http_->Send("PUT", "/_index_template/" + options_.prefix + "logs",
                       json::serialize(LogTemplate(options_.prefix, options_.replicas)));
  if (!r.ok()) return r.error();
  if (r->status != 200) return OsRefused("the log index template", *r);
  std::lock_guard lock(mu_);
  if (started_) return OkStatus();
  started_ = true;
  worker_ = std::thread([this] { Run(); });
  return OkStatus();
}

void OsLogShipper::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::lock_guard lock(mu_);
  dropped_ += queue_.size();
  queue_.clear();
  queue_bytes_ = 0;
}

void OsLogShipper::Offer(LogLevel level, int64_t at_ms, const json::object& line,
                         std::string_view text) noexcept {
  try {
    json::object fields;
    std::string_view msg;
    for (const auto& kv : line) {
      if (kv.key() == "msg" && kv.value().is_string()) msg = kv.value().get_string();
      else if (kv.key() != "ts" && kv.key() != "level") fields.emplace(kv.key(), kv.value());
    }
    json::object doc{{"@timestamp", at_ms},
                     {"level", LogLevelName(level)},
                     {"level_no", static_cast<int>(level)},
                     {"node", options_.node_id},
                     {"msg", msg},
                     {"line", text},
                     {"fields", std::move(fields)}};
    std::string serialized = json::serialize(doc);
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= options_.max_queue_lines ||
        queue_bytes_ + serialized.size() > options_.max_queue_bytes) {
      ++dropped_;
      return;
    }
    queue_bytes_ += serialized.size();
    queue_.push_back({at_ms, std::move(serialized)});
    if (queue_.size() >= options_.batch_lines) cv_.notify_one();
  } catch (...) {
    ++dropped_;  // out of memory: the line is not shipped (it is on stderr)
  }
}

void OsLogShipper::Run() {
  using Clock = std::chrono::steady_clock;
  std::vector<Line> batch;
  uint64_t next_id = 0, batch_id = 0;
  int backoff_ms = 0;
  Clock::time_point stop_deadline{};
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (batch.empty()) {
        cv_.wait_for(lock, std::chrono::milliseconds(options_.flush_interval_ms),
                     [&] { return stopping_ || queue_.size() >= options_.batch_lines; });
      } else if (backoff_ms > 0 && !stopping_) {
        cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] { return stopping_; });
      }
      if (stopping_ && stop_deadline == Clock::time_point{})
        stop_deadline = Clock::now() + std::chrono::milliseconds(options_.stop_timeout_ms);
      if (batch.empty()) {
        while (!queue_.empty() && batch.size() < options_.batch_lines) {
          queue_bytes_ -= queue_.front().doc.size();
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        batch_id = next_id;
        next_id += batch.size();
      }
      if (batch.empty() && stopping_) return;
    }
    if (batch.empty()) continue;
    if (SendBatch(batch, batch_id).ok()) {
      batch.clear();
      backoff_ms = 0;
    } else {
      ++failed_batches_;
      backoff_ms = std::min(5000, std::max(100, backoff_ms * 2));
    }
    if (stop_deadline != Clock::time_point{} && Clock::now() >= stop_deadline) {
      dropped_ += batch.size();
      return;  // Stop counts what is still queued
    }
  }
}

Status OsLogShipper::EnsureDayIndex(const std::string& name) {
  if (known_indices_.count(name)) return OkStatus();
  // Created explicitly (the node may refuse to create indices on write); the template gives it
  // its settings and mapping.
  auto r = http_->Send("PUT", "/" + name, "");
  if (!r.ok()) return r.error();
  if (r->status != 200 && r->body.find("resource_already_exists_exception") == std::string::npos)
    return OsRefused("creating index " + name, *r);
  if (known_indices_.size() > 64) known_indices_.clear();  // bounded: a few days in use at once
  known_indices_.insert(name);
  return OkStatus();
}

Status OsLogShipper::SendBatch(const std::vector<Line>& batch, uint64_t first_id) {
  std::string body;
  for (size_t i = 0; i < batch.size(); ++i) {
    PARLEY_TRY(EnsureDayIndex(DayIndex(batch[i].at_ms)));
    json::object action{{"create",
                         {{"_index", DayIndex(batch[i].at_ms)},
                          {"_id", id_base_ + std::to_string(first_id + i)}}}};
    body += json::serialize(action);
    body += '\n';
    body += batch[i].doc;
    body += '\n';
  }
  auto statuses = OsBulk(*http_, "/_bulk", body, batch.size(), "a log batch");
  if (!statuses.ok()) return statuses.error();
  uint64_t stored = 0, refused = 0;  // counted once the whole batch is settled
  for (int st : *statuses) {
    if (st == 201 || st == 409) {
      ++stored;  // stored now, or by an earlier try of this batch
    } else if (st == 429 || st >= 500 || st == 0) {
      return OsUnavailable("OpenSearch could not store a log line now (HTTP " +
                           std::to_string(st) + ")");  // the whole batch again: ids dedupe
    } else {
      ++refused;
    }
  }
  shipped_ += stored;
  rejected_ += refused;
  return OkStatus();
}

}  // namespace parley::storage::opensearch
