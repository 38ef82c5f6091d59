#include "services/search/search_params.h"

#include "common/encoding.h"
#include "common/ids.h"
#include "common/json_fields.h"

namespace parley::services {

Result<SearchParams> ReadSearchParams(const transport::HttpRequest& req) {
  SearchParams p;
  const std::string* q = req.Query("q");
  if (!q || q->empty()) return MakeError(ErrorCode::kInvalidArgument, "q is required");
  if (q->size() > kMaxSearchQueryBytes) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "q is longer than " + std::to_string(kMaxSearchQueryBytes) + " bytes");
  }
  if (!IsUtf8(*q)) return MakeError(ErrorCode::kInvalidArgument, "q must be UTF-8");
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
