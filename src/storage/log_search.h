// LogSearch: the application and audit logs of every node, shipped to a search engine and
// searchable by an admin (GET /v1/admin/logs). Search blocks the caller (a pool thread).
// Errors: kInvalidArgument for a bad query; kUnavailable when the engine does not answer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace parley::storage {

struct LogQuery {
  std::string text;       // every word must occur in the line (any field); "" = any line
  int min_level = 0;      // LogLevel as an int: 0 debug, 1 info, 2 warn, 3 error
  std::string node;       // exact node id; "" = every node
  int64_t since_ms = 0;   // at >= since_ms (0 = no bound)
  int64_t until_ms = 0;   // at < until_ms (0 = no bound)
  int limit = 50;         // 1..200
};

struct LogHit {
  int64_t at = 0;      // ms since the epoch
  std::string level;   // debug, info, warn, error
  std::string node;
  std::string msg;
  std::string line;    // the whole line as logged: a JSON object, as text
};

class LogSearch {
 public:
  virtual ~LogSearch() = default;
  // Newest first.
  virtual Result<std::vector<LogHit>> SearchLogs(const LogQuery& q) = 0;
};

}  // namespace parley::storage
