// The event envelope as a Kafka record value reaches a node (KafkaBus's consumer): FromJson with
// its size, depth, type and id checks. An accepted envelope must respect every bound FromJson
// promises and survive Serialize → FromJson unchanged; a refused one is kInvalidArgument.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string_view>

#include "common/ids.h"
#include "events/event.h"

using namespace parley;

namespace {
// Equal JSON values, doubles within a relative 1e-12: Boost.JSON parses long decimals imprecisely
// by default, so a number re-read from its own serialization may differ in the last bits (seen by
// this fuzzer in a payload's 26-digit integer; not a decoder bug).
bool SameJson(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_number() && b.is_number() && (a.is_double() || b.is_double())) {
    double x = a.to_number<double>(), y = b.to_number<double>();
    return x == y || std::abs(x - y) <= 1e-12 * std::max(std::abs(x), std::abs(y));
  }
  if (a.kind() != b.kind()) return false;
  if (a.is_object()) {
    const auto& oa = a.as_object();
    const auto& ob = b.as_object();
    if (oa.size() != ob.size()) return false;
    for (const auto& [k, v] : oa) {
      const auto* w = ob.if_contains(k);
      if (!w || !SameJson(v, *w)) return false;
    }
    return true;
  }
  if (a.is_array()) {
    const auto& xa = a.as_array();
    const auto& xb = b.as_array();
    if (xa.size() != xb.size()) return false;
    for (size_t i = 0; i < xa.size(); ++i)
      if (!SameJson(xa[i], xb[i])) return false;
    return true;
  }
  return a == b;
}
}  // namespace

#define FUZZ_CHECK(cond) \
  if (!(cond)) __builtin_trap()

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto e = events::FromJson(text);
  if (!e.ok()) {
    FUZZ_CHECK(e.error().code == ErrorCode::kInvalidArgument);
    return 0;
  }
  FUZZ_CHECK(size <= events::kMaxEnvelopeBytes);
  FUZZ_CHECK(NormalizeUuid(e->event_id) == e->event_id);  // canonical
  FUZZ_CHECK(!e->type.empty() && e->type.size() <= events::kMaxTypeBytes);
  for (char c : e->type) FUZZ_CHECK((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_');
  FUZZ_CHECK(e->occurred_at >= 0 && e->occurred_at <= events::kMaxOccurredAtMs);
  FUZZ_CHECK(e->key.size() <= events::kMaxKeyBytes);

  // What a node re-publishes decodes to the same event (the serialized form may be larger than
  // the input, e.g. by escapes, so only check it when it still fits).
  std::string again = events::Serialize(*e);
  if (again.size() <= events::kMaxEnvelopeBytes) {
    auto back = events::FromJson(again);
    FUZZ_CHECK(back.ok());
    FUZZ_CHECK(back->event_id == e->event_id && back->type == e->type &&
               back->occurred_at == e->occurred_at && back->key == e->key &&
               SameJson(back->payload, e->payload));
  }
  return 0;
}
