// JSON request bodies as every handler reads them: ParseJsonObject (depth limit 32), then each
// Fields reader on each key of the object with bounds taken from the input, StringOr, and
// QueryInt on the raw text. Then the get-messages cursor (DecodeCursor): the input base64url-
// encoded as a client would send it, and the raw input as a cursor; a decoded cursor must
// survive EncodeCursor → DecodeCursor unchanged.
#include <cstdlib>
#include <string_view>

#include "common/encoding.h"
#include "common/json_fields.h"
#include "services/chat/chat_json.h"

using namespace parley;

#define FUZZ_CHECK(cond) \
  if (!(cond)) __builtin_trap()

namespace {

void Cursor(std::string_view text) {
  auto c = services::DecodeCursor(text);
  if (!c.ok()) return;
  auto again = services::DecodeCursor(services::EncodeCursor(*c));
  FUZZ_CHECK(again.ok() && again->to_device == c->to_device && again->seqs == c->seqs);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string text_copy(text);
  (void)QueryInt(&text_copy, "limit", -1000, 1000);
  Cursor(text);
  Cursor(Base64UrlEncode(text));

  auto o = ParseJsonObject(text);
  if (!o.ok()) return 0;
  const size_t bound = size % 64;
  Fields f(*o);
  for (const auto& [key, value] : *o) {
    std::string_view k = key;
    auto s = f.Str(k, true, bound);
    if (s) FUZZ_CHECK(s->size() <= bound);
    (void)f.Uuid(k, false);
    auto i = f.Int(k, false, -static_cast<int64_t>(bound), static_cast<int64_t>(bound));
    if (i) FUZZ_CHECK(*i >= -static_cast<int64_t>(bound) && *i <= static_cast<int64_t>(bound));
    (void)f.Bool(k, false);
    auto l = f.StrList(k, false, bound, bound);
    if (l) FUZZ_CHECK(l->size() <= bound);
    (void)f.Obj(k, false);
    (void)StringOr(*o, k);
    // A fresh reader per key as well, since the first failure sticks.
    Fields g(*o);
    (void)g.Uuid(k, true);
    (void)g.StrList(k, true, 1000, 1000);
    FUZZ_CHECK(g.ok() || g.error().code == ErrorCode::kInvalidArgument);
  }
  (void)f.Str("absent-key", true, 1);
  FUZZ_CHECK(!f.ok());
  return 0;
}
