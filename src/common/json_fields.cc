#include "common/json_fields.h"

#include <boost/json/parse.hpp>

#include <charconv>

#include "common/ids.h"

namespace parley {

Result<boost::json::object> ParseJsonObject(std::string_view body) {
  boost::system::error_code ec;
  boost::json::parse_options opts;
  opts.max_depth = 32;
  auto v = boost::json::parse(body, ec, {}, opts);
  if (ec) return MakeError(ErrorCode::kInvalidArgument, "malformed JSON");
  if (!v.is_object()) return MakeError(ErrorCode::kInvalidArgument, "body must be a JSON object");
  return std::move(v.as_object());
}

void Fields::Fail(std::string message) {
  if (!error_) error_ = MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

const boost::json::value* Fields::Get(std::string_view key, bool required) {
  const boost::json::value* v = o_.if_contains(key);
  if (!v || v->is_null()) {
    if (required) Fail(std::string(key) + " is required");
    return nullptr;
  }
  return v;
}

std::optional<std::string> Fields::Str(std::string_view key, bool required, size_t max_bytes) {
  const auto* v = Get(key, required);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    Fail(std::string(key) + " must be a string");
    return std::nullopt;
  }
  if (v->as_string().size() > max_bytes) {
    Fail(std::string(key) + " is too long (at most " + std::to_string(max_bytes) + " bytes)");
    return std::nullopt;
  }
  return std::string(v->as_string());
}

std::optional<std::string> Fields::Uuid(std::string_view key, bool required) {
  auto s = Str(key, required, 64);
  if (!s) return std::nullopt;
  auto n = NormalizeUuid(*s);
  if (!n) Fail(std::string(key) + " must be a UUID");
  return n;
}

std::optional<int64_t> Fields::Int(std::string_view key, bool required, int64_t min, int64_t max) {
  const auto* v = Get(key, required);
  if (!v) return std::nullopt;
  int64_t x;
  if (v->is_int64()) {
    x = v->as_int64();
  } else if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    x = static_cast<int64_t>(v->as_uint64());
  } else {
    Fail(std::string(key) + " must be an integer");
    return std::nullopt;
  }
  if (x < min || x > max) {
    Fail(std::string(key) + " is out of range");
    return std::nullopt;
  }
  return x;
}

std::optional<bool> Fields::Bool(std::string_view key, bool required) {
  const auto* v = Get(key, required);
  if (!v) return std::nullopt;
  if (!v->is_bool()) {
    Fail(std::string(key) + " must be true or false");
    return std::nullopt;
  }
  return v->as_bool();
}

std::optional<std::vector<std::string>> Fields::StrList(std::string_view key, bool required,
                                                        size_t max_items, size_t max_bytes) {
  const auto* v = Get(key, required);
  if (!v) return std::nullopt;
  if (!v->is_array()) {
    Fail(std::string(key) + " must be an array of strings");
    return std::nullopt;
  }
  if (v->as_array().size() > max_items) {
    Fail(std::string(key) + " has too many items (at most " + std::to_string(max_items) + ")");
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const auto& e : v->as_array()) {
    if (!e.is_string() || e.as_string().size() > max_bytes) {
      Fail(std::string(key) + " must be an array of short strings");
      return std::nullopt;
    }
    out.emplace_back(e.as_string());
  }
  return out;
}

const boost::json::object* Fields::Obj(std::string_view key, bool required) {
  const auto* v = Get(key, required);
  if (!v) return nullptr;
  if (!v->is_object()) {
    Fail(std::string(key) + " must be an object");
    return nullptr;
  }
  return &v->as_object();
}

std::string StringOr(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

Result<std::optional<int64_t>> QueryInt(const std::string* text, std::string_view name,
                                        int64_t min, int64_t max) {
  if (!text) return std::optional<int64_t>();
  int64_t x = 0;
  auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), x);
  if (ec != std::errc() || p != text->data() + text->size() || x < min || x > max) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(name) + " must be an integer from " + std::to_string(min) +
                         " to " + std::to_string(max));
  }
  return std::optional<int64_t>(x);
}

}  // namespace parley
