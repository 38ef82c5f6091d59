// Structured logs: one JSON object per line on stderr, {"ts","level","msg",…fields}, and to a
// tap when one is set (log shipping). Thread-safe. Never log secrets: passwords, tokens, keys,
// message bodies.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>

#include <initializer_list>
#include <string_view>
#include <utility>

namespace parley {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// One key/value of a log line; the value is anything boost::json::value_from accepts.
struct LogField {
  template <typename V>
  LogField(std::string_view k, V&& v) : key(k), value(boost::json::value_from(std::forward<V>(v))) {}
  std::string_view key;
  boost::json::value value;
};
using LogFields = std::initializer_list<LogField>;

// Receives every line written (at or above the log level), after it is on stderr: as an object
// and as the JSON text written (without its newline). Offer is called on the logging thread,
// under a lock that SetLogTap also takes: it must be quick (enqueue, never block on I/O) and must
// not log.
class LogTap {
 public:
  virtual ~LogTap() = default;
  virtual void Offer(LogLevel level, int64_t at_ms, const boost::json::object& line,
                     std::string_view text) noexcept = 0;
};
// Sets the tap (nullptr: none). Once SetLogTap returns, the previous tap is no longer called and
// may be destroyed.
void SetLogTap(LogTap* tap);
const char* LogLevelName(LogLevel level);

void SetLogLevel(LogLevel level);
// Parses "debug", "info", "warn", "error"; false if unknown.
bool ParseLogLevel(std::string_view text, LogLevel* out);
bool LogEnabled(LogLevel level);
void LogLine(LogLevel level, std::string_view msg, LogFields fields = {});

inline void LogDebug(std::string_view msg, LogFields f = {}) { if (LogEnabled(LogLevel::kDebug)) LogLine(LogLevel::kDebug, msg, f); }
inline void LogInfo(std::string_view msg, LogFields f = {}) { LogLine(LogLevel::kInfo, msg, f); }
inline void LogWarn(std::string_view msg, LogFields f = {}) { LogLine(LogLevel::kWarn, msg, f); }
inline void LogError(std::string_view msg, LogFields f = {}) { LogLine(LogLevel::kError, msg, f); }

}  // namespace parley
