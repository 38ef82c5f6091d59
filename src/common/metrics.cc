#include "common/metrics.h"

#include <sstream>

namespace parley {

std::atomic<uint64_t>& Metrics::Counter(const std::string& name, const std::string& help) {
  std::lock_guard lock(mu_);
  for (auto& e : entries_)
    if (e.name == name && e.counter) return *e.counter;
  entries_.push_back({name, help, "counter", std::make_unique<std::atomic<uint64_t>>(0), nullptr});
  return *entries_.back().counter;
}

void Metrics::Gauge(const std::string& name, const std::string& help, std::function<double()> read) {
  std::lock_guard lock(mu_);
  entries_.push_back({name, help, "gauge", nullptr, std::move(read)});
}

void Metrics::CounterFn(const std::string& name, const std::string& help,
                        std::function<double()> read) {
  std::lock_guard lock(mu_);
  entries_.push_back({name, help, "counter", nullptr, std::move(read)});
}

std::string Metrics::RenderPrometheus() const {
  std::lock_guard lock(mu_);
  std::ostringstream out;
  for (const auto& e : entries_) {
    out << "# HELP " << e.name << " " << e.help << "\n# TYPE " << e.name << " " << e.type << "\n"
        << e.name << " ";
    if (e.counter) {
      out << e.counter->load(std::memory_order_relaxed);
    } else {
      out << e.gauge();
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace parley
