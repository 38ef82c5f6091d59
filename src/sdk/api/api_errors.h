// Turning what the server answered into parley::Error: the contract's error body
// {"error":{"code","message"}} gives the ErrorCode (by name, else by HTTP status), 429 carries
// Retry-After in Error::retry_after_s.
#pragma once

#include <optional>
#include <string_view>

#include "common/result.h"
#include "sdk/net/http_client.h"

namespace parley::sdk {

// The ErrorCode named by the contract's string ("not_found" → kNotFound); nullopt if unknown.
std::optional<ErrorCode> ErrorCodeFromName(std::string_view name);
// The ErrorCode of an HTTP status (per the table in docs/openapi.yaml, "Errors"); 5xx other
// than 503 → kInternal.
ErrorCode ErrorCodeFromStatus(int status);
// The error of a non-2xx response.
Error ErrorFromResponse(const net::HttpResponse& r);

}  // namespace parley::sdk
