#include "report.h"

#include <boost/json/serialize.hpp>
#include <cstdio>
#include <fstream>

namespace parley::bench {

namespace json = boost::json;

namespace {
struct PercentileName {
  double p;
  const char* json_key;
};
constexpr PercentileName kPercentiles[] = {
    {50, "p50_us"}, {90, "p90_us"}, {99, "p99_us"}, {99.9, "p99_9_us"}};

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string Ms(int64_t ns) { return Fixed(static_cast<double>(ns) / 1e6, 3); }

double Us(int64_t ns) { return static_cast<double>(ns / 100) / 10.0; }  // µs, 0.1 resolution
}  // namespace

void PrintReport(const Report& r, std::ostream& out) {
  out << "\n== " << r.scenario << ": " << r.summary << "\n\n";
  for (const auto& [name, v] : r.rates) {
    char line[160];
    std::snprintf(line, sizeof line, "  %-34s %12.0f /s\n", name.c_str(), v);
    out << line;
  }
  if (!r.latencies.empty()) {
    char line[200];
    std::snprintf(line, sizeof line, "\n  %-24s %10s %9s %9s %9s %9s %9s %9s\n", "latency (ms)",
                  "count", "p50", "p90", "p99", "p99.9", "max", "mean");
    out << line;
    for (const auto& [name, h] : r.latencies) {
      std::snprintf(line, sizeof line, "  %-24s %10llu %9s %9s %9s %9s %9s %9s\n", name.c_str(),
                    static_cast<unsigned long long>(h.count()), Ms(h.Percentile(50)).c_str(),
                    Ms(h.Percentile(90)).c_str(), Ms(h.Percentile(99)).c_str(),
                    Ms(h.Percentile(99.9)).c_str(), Ms(h.max()).c_str(),
                    Fixed(h.mean() / 1e6, 3).c_str());
      out << line;
    }
  }
  if (!r.resources.empty()) {
    out << "\n";
    for (const auto& [name, v] : r.resources) {
      out << "  " << name << ": " << (v < 0 ? std::string("n/a") : Fixed(v, 2) + " cores") << "\n";
    }
  }
  for (const auto& [name, v] : r.environment) out << "  " << name << ": " << v << "\n";
  if (!r.counters.empty()) {
    out << "\n";
    for (const auto& [name, v] : r.counters) out << "  " << name << ": " << v << "\n";
  }
  for (const auto& w : r.warnings) out << "\n  WARNING: " << w;
  out << (r.warnings.empty() ? "\n" : "\n\n");
  out.flush();
}

Status WriteJsonReport(const Report& r, const std::string& path) {
  json::object root;
  root["scenario"] = r.scenario;
  root["summary"] = r.summary;
  root["config"] = r.config;
  json::object rates;
  for (const auto& [name, v] : r.rates) rates[name] = v;
  root["rates_per_s"] = std::move(rates);
  json::object lat;
  for (const auto& [name, h] : r.latencies) {
    json::object o;
    o["count"] = h.count();
    for (const auto& [p, key] : kPercentiles) o[key] = Us(h.Percentile(p));
    o["max_us"] = Us(h.max());
    o["min_us"] = Us(h.min());
    o["mean_us"] = static_cast<double>(static_cast<int64_t>(h.mean() / 100)) / 10.0;
    lat[name] = std::move(o);
  }
  root["latency"] = std::move(lat);
  json::object res;
  for (const auto& [name, v] : r.resources) res[name] = v;
  root["resources_cores"] = std::move(res);
  json::object counters;
  for (const auto& [name, v] : r.counters) counters[name] = v;
  root["counters"] = std::move(counters);
  json::object env;
  for (const auto& [name, v] : r.environment) env[name] = v;
  root["environment"] = std::move(env);
  json::array warnings;
  for (const auto& w : r.warnings) warnings.emplace_back(w);
  root["warnings"] = std::move(warnings);
  root["incomplete"] = r.incomplete;

  std::ofstream f(path);
  if (!f) return Error{ExitCode::kUsage, "--json: cannot write '" + path + "'"};
  f << json::serialize(root) << "\n";
  if (!f) return Error{ExitCode::kUsage, "--json: write to '" + path + "' failed"};
  return Ok();
}

}  // namespace parley::bench
