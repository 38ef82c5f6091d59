// What a scenario run produced, printed as a table on stdout and optionally written as JSON.
// Scenarios fill a Report; they never format output themselves.
#pragma once

#include <boost/json/object.hpp>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "histogram.h"
#include "result.h"

namespace parley::bench {

struct Report {
  std::string scenario;
  std::string summary;          // one line: the essential settings
  boost::json::object config;   // every setting, for the JSON file
  // Throughput figures, per second over the measured window.
  std::vector<std::pair<std::string, double>> rates;
  // Latency distributions in nanoseconds.
  std::vector<std::pair<std::string, Histogram>> latencies;
  // Plain counts: totals, duplicates, errors by code, frames by type.
  std::vector<std::pair<std::string, uint64_t>> counters;
  // Resource use over the window (cores), -1 when unknown.
  std::vector<std::pair<std::string, double>> resources;
  // Conditions of the run worth keeping beside the figures (load average of the machine...).
  std::vector<std::pair<std::string, std::string>> environment;
  std::vector<std::string> warnings;  // printed after the figures
  bool incomplete = false;  // sends failed or messages went missing: exit code 4
};

void PrintReport(const Report& r, std::ostream& out);
Status WriteJsonReport(const Report& r, const std::string& path);

}  // namespace parley::bench
