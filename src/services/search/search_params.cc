#include "services/search/search_params.h"

#include "common/ids.h"
#include "common/json_fields.h"

namespace parley::services {

bool IsWellFormedUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // past U+10FFFF
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated
    auto c1 = static_cast<unsigned char>(s[i + 1]);
    if (c1 < lo || c1 > hi) return false;
    for (size_t k = 2; k <= n; ++k) {
      auto ck = static_cast<unsigned char>(s[i + k]);
      if (ck < 0x80 || ck > 0xBF) return false;
    }
    i += n + 1;
  }
  return true;
}

Result<SearchParams> ReadSearchParams(const transport::HttpRequest& req) {
  SearchParams p;
  const std::string* q = req.Query("q");
  if (!q || q->empty()) return MakeError(ErrorCode::kInvalidArgument, "q is required");
  if (q->size() > kMaxSearchQueryBytes) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "q is longer than " + std::to_string(kMaxSearchQueryBytes) + " bytes");
  }
  if (!IsWellFormedUtf8(*q)) return MakeError(ErrorCode::kInvalidArgument, "q must be UTF-8");
  p.q = *q;
  if (const std::string* c = req.Query("conversation_id")) {
    p.conversation_id = NormalizeUuid(*c);
    if (!p.conversation_id)
      return MakeError(ErrorCode::kInvalidArgument, "conversation_id must be a UUID");
  }
  auto limit = QueryInt(req.Query("limit"), "limit", 1, kMaxSearchLimit);
  if (!limit.ok()) return limit.error();
  p.limit = static_cast<int>(limit->value_or(kDefaultSearchLimit));
  return p;
}

}  // namespace parley::services
