// The query parameters of GET /v1/search-messages, read and bounded before any work is done.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "transport/http_types.h"

namespace parley::services {

inline constexpr size_t kMaxSearchQueryBytes = 256;
inline constexpr int kDefaultSearchLimit = 50;  // the contract's list default
inline constexpr int kMaxSearchLimit = 200;

struct SearchParams {
  std::string q;                                // 1–256 bytes of UTF-8
  std::optional<std::string> conversation_id;   // canonical UUID
  int limit = kDefaultSearchLimit;              // 1–200
};

// kInvalidArgument naming the parameter that is missing, too long, not UTF-8, not a UUID or out
// of range. (Whether q holds any word at all is the index's to say: it knows its tokenizer.)
Result<SearchParams> ReadSearchParams(const transport::HttpRequest& req);

}  // namespace parley::services
