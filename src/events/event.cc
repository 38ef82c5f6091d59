#include "events/event.h"

#include <boost/json/serialize.hpp>

#include <cmath>

#include "common/ids.h"
#include "common/json_fields.h"
#include "common/time.h"

namespace parley::events {

EventPtr MakeEvent(std::string_view type, std::string key, boost::json::object payload) {
  return MakeEventWithId(NewUuidV7(), type, std::move(key), std::move(payload));
}

EventPtr MakeEventWithId(std::string event_id, std::string_view type, std::string key,
                         boost::json::object payload) {
  auto e = std::make_shared<Event>();
  e->event_id = std::move(event_id);
  e->type = std::string(type);
  e->occurred_at = NowMs();
  e->key = std::move(key);
  e->payload = std::move(payload);
  return e;
}

boost::json::object ToJson(const Event& e) {
  return {{"event_id", e.event_id},
          {"type", e.type},
          {"occurred_at", e.occurred_at},
          {"key", e.key},
          {"payload", e.payload}};
}

std::string Serialize(const Event& e) { return boost::json::serialize(ToJson(e)); }

namespace {

bool IsTypeName(std::string_view s) {
  if (s.empty() || s.size() > kMaxTypeBytes) return false;
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

// A number our own serializer cannot write back as JSON (an overflowing exponent parses as an
// infinity): refused, so every accepted envelope can be re-published as it was read.
bool AllFinite(const boost::json::value& v) {
  if (v.is_double()) return std::isfinite(v.get_double());
  if (v.is_object()) {
    for (const auto& [k, x] : v.get_object())
      if (!AllFinite(x)) return false;
  } else if (v.is_array()) {
    for (const auto& x : v.get_array())
      if (!AllFinite(x)) return false;
  }
  return true;
}

}  // namespace

Result<Event> FromJson(std::string_view text) {
  if (text.size() > kMaxEnvelopeBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "event envelope is too large");
  }
  auto parsed = ParseJsonObject(text);  // depth-limited
  if (!parsed.ok()) {
    return MakeError(ErrorCode::kInvalidArgument, "event envelope: " + parsed.error().message);
  }
  const boost::json::object& o = *parsed;
  Fields f(o);
  auto event_id = f.Uuid("event_id", true);
  auto type = f.Str("type", true, kMaxTypeBytes);
  auto occurred_at = f.Int("occurred_at", true, 0, kMaxOccurredAtMs);
  auto key = f.Str("key", true, kMaxKeyBytes);
  const boost::json::object* payload = f.Obj("payload", true);
  if (f.ok() && !IsTypeName(*type)) f.Fail("type must be 1-64 characters of A-Z, 0-9 and _");
  if (f.ok() && !AllFinite(*payload)) f.Fail("payload numbers must be finite");
  if (!f.ok()) {
    return MakeError(ErrorCode::kInvalidArgument, "event envelope: " + f.error().message);
  }
  Event e;
  e.event_id = std::move(*event_id);
  e.type = std::move(*type);
  e.occurred_at = *occurred_at;
  e.key = std::move(*key);
  e.payload = *payload;
  return e;
}

}  // namespace parley::events
