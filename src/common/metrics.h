// Metrics: named counters, gauges and histograms rendered in the Prometheus text format. Counters
// and histograms are lock-free; registration happens at start-up. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/histogram.h"

namespace parley {

class Metrics {
 public:
  // A counter that lives as long as the registry. Register once, keep the reference.
  std::atomic<uint64_t>& Counter(const std::string& name, const std::string& help);
  // A gauge read when metrics are rendered.
  void Gauge(const std::string& name, const std::string& help, std::function<double()> read);
  // A counter kept elsewhere (it only grows), read when metrics are rendered. Name it *_total.
  void CounterFn(const std::string& name, const std::string& help, std::function<double()> read);
  // A histogram of durations (rendered in seconds) that lives as long as the registry.
  Histogram& NewHistogram(const std::string& name, const std::string& help);
  // A histogram kept elsewhere; it must outlive every RenderPrometheus call.
  void HistogramRef(const std::string& name, const std::string& help, const Histogram* h);
  std::string RenderPrometheus() const;

 private:
  struct Entry {
    std::string name, help, type;
    std::unique_ptr<std::atomic<uint64_t>> counter;
    std::function<double()> gauge;
    std::unique_ptr<Histogram> owned;  // NewHistogram's
    const Histogram* histogram = nullptr;
  };
  mutable std::mutex mu_;
  std::vector<Entry> entries_;  // guarded by mu_
};

}  // namespace parley
