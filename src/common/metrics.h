// Metrics: named counters and gauges rendered in the Prometheus text format. Counters are
// lock-free; registration happens at start-up. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace parley {

class Metrics {
 public:
  // A counter that lives as long as the registry. Register once, keep the reference.
  std::atomic<uint64_t>& Counter(const std::string& name, const std::string& help);
  // A gauge read when metrics are rendered.
  void Gauge(const std::string& name, const std::string& help, std::function<double()> read);
  // A counter kept elsewhere (it only grows), read when metrics are rendered. Name it *_total.
  void CounterFn(const std::string& name, const std::string& help, std::function<double()> read);
  std::string RenderPrometheus() const;

 private:
  struct Entry {
    std::string name, help, type;
    std::unique_ptr<std::atomic<uint64_t>> counter;
    std::function<double()> gauge;
  };
  mutable std::mutex mu_;
  std::vector<Entry> entries_;  // guarded by mu_
};

}  // namespace parley
