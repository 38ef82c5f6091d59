#include "common/metrics.h"

#include <sstream>

namespace parley {

std::atomic<uint64_t>& Metrics::Counter(const std::string& name, const std::string& help) {
  std::lock_guard lock(mu_);
  for (auto& e : entries_)
    if (e.name == name && e.counter) return *e.counter;
  entries_.push_back(
      {name, help, "counter", std::make_unique<std::atomic<uint64_t>>(0), nullptr, nullptr, nullptr});
  return *entries_.back().counter;
}

void Metrics::Gauge(const std::string& name, const std::string& help, std::function<double()> read) {
  std::lock_guard lock(mu_);
  entries_.push_back({name, help, "gauge", nullptr, std::move(read), nullptr, nullptr});
}

void Metrics::CounterFn(const std::string& name, const std::string& help,
                        std::function<double()> read) {
  std::lock_guard lock(mu_);
  entries_.push_back({name, help, "counter", nullptr, std::move(read), nullptr, nullptr});
}

Histogram& Metrics::NewHistogram(const std::string& name, const std::string& help) {
  std::lock_guard lock(mu_);
  auto h = std::make_unique<Histogram>();
  Histogram& ref = *h;
  entries_.push_back({name, help, "histogram", nullptr, nullptr, std::move(h), &ref});
  return ref;
}

void Metrics::HistogramRef(const std::string& name, const std::string& help, const Histogram* h) {
  std::lock_guard lock(mu_);
  entries_.push_back({name, help, "histogram", nullptr, nullptr, nullptr, h});
}

namespace {

void RenderHistogram(std::ostringstream& out, const std::string& name, const Histogram& h) {
  Histogram::Snapshot s = h.Read();
  uint64_t below = 0;
  for (size_t i = 0; i < Histogram::kBuckets; ++i) {
    below += s.buckets[i];
    out << name << "_bucket{le=\"";
    if (i < Histogram::kBounds.size()) {
      out << Histogram::kBounds[i];
    } else {
      out << "+Inf";
    }
    out << "\"} " << below << "\n";
  }
  out << name << "_sum " << s.sum_seconds << "\n" << name << "_count " << below << "\n";
}

}  // namespace

std::string Metrics::RenderPrometheus() const {
  std::lock_guard lock(mu_);
  std::ostringstream out;
  for (const auto& e : entries_) {
    out << "# HELP " << e.name << " " << e.help << "\n# TYPE " << e.name << " " << e.type << "\n";
    if (e.histogram) {
      RenderHistogram(out, e.name, *e.histogram);
      continue;
    }
    out << e.name << " ";
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
