#include "events/event.h"

#include "common/ids.h"
#include "common/time.h"

namespace parley::events {

EventPtr MakeEvent(std::string_view type, std::string key, boost::json::object payload) {
  auto e = std::make_shared<Event>();
  e->event_id = NewUuidV7();
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

}  // namespace parley::events
