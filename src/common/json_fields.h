// Reading request bodies: parse a JSON object and pull typed, bounded fields out of it, keeping
// the first problem as a kInvalidArgument error naming the field. Unknown fields are ignored.
#pragma once

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace parley {

// kInvalidArgument unless `body` is one JSON object.
Result<boost::json::object> ParseJsonObject(std::string_view body);

class Fields {
 public:
  explicit Fields(const boost::json::object& o) : o_(o) {}

  // A string of at most max_bytes. Absent (or null) and not required → nullopt.
  std::optional<std::string> Str(std::string_view key, bool required, size_t max_bytes);
  // A canonical (lowercase) UUID.
  std::optional<std::string> Uuid(std::string_view key, bool required);
  std::optional<int64_t> Int(std::string_view key, bool required, int64_t min, int64_t max);
  std::optional<bool> Bool(std::string_view key, bool required);
  // An array of strings, each at most max_bytes, at most max_items.
  std::optional<std::vector<std::string>> StrList(std::string_view key, bool required,
                                                  size_t max_items, size_t max_bytes);
  const boost::json::object* Obj(std::string_view key, bool required);

  // Records a problem found by the caller (the first one wins).
  void Fail(std::string message);
  bool ok() const { return !error_.has_value(); }
  Error error() const { return *error_; }

 private:
  const boost::json::value* Get(std::string_view key, bool required);
  const boost::json::object& o_;
  std::optional<Error> error_;
};

// The string at `key`, or empty if absent or not a string. For trusted JSON (events, our own
// payloads); requests go through Fields, which reports what is wrong.
std::string StringOr(const boost::json::object& o, std::string_view key);

// Query-string integers: nullopt if absent; kInvalidArgument if not an integer in [min, max].
Result<std::optional<int64_t>> QueryInt(const std::string* text, std::string_view name,
                                        int64_t min, int64_t max);

}  // namespace parley
