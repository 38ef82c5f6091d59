#include "sdk/api/api_errors.h"

#include <boost/json/parse.hpp>

#include <charconv>

#include "common/error_map.h"
#include "sdk/api/api_types.h"

namespace parley::sdk {

std::optional<ErrorCode> ErrorCodeFromName(std::string_view name) {
  for (ErrorCode c : {ErrorCode::kInvalidArgument, ErrorCode::kUnauthenticated,
                      ErrorCode::kForbidden, ErrorCode::kNotFound, ErrorCode::kConflict,
                      ErrorCode::kPayloadTooLarge, ErrorCode::kUnsupportedMediaType,
                      ErrorCode::kRateLimited, ErrorCode::kUnavailable, ErrorCode::kInternal}) {
    if (CodeName(c) == name) return c;
  }
  return std::nullopt;
}

ErrorCode ErrorCodeFromStatus(int status) {
  switch (status) {
    case 400: case 405: case 416: return ErrorCode::kInvalidArgument;
    case 401: return ErrorCode::kUnauthenticated;
    case 403: return ErrorCode::kForbidden;
    case 404: return ErrorCode::kNotFound;
    case 409: return ErrorCode::kConflict;
    case 413: return ErrorCode::kPayloadTooLarge;
    case 415: return ErrorCode::kUnsupportedMediaType;
    case 429: return ErrorCode::kRateLimited;
    case 502: case 503: case 504: return ErrorCode::kUnavailable;
    default: return status >= 500 ? ErrorCode::kInternal : ErrorCode::kInvalidArgument;
  }
}

Error ErrorFromResponse(const net::HttpResponse& r) {
  Error e{ErrorCodeFromStatus(r.status), "HTTP " + std::to_string(r.status), 0};
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  if (!ec && v.is_object()) {
    if (const auto* err = JObj(v.get_object(), "error")) {
      if (auto code = ErrorCodeFromName(JStr(*err, "code"))) e.code = *code;
      std::string msg = JStr(*err, "message");
      if (!msg.empty()) e.message = msg.substr(0, 1024);
    }
  }
  if (e.code == ErrorCode::kRateLimited) {
    std::string ra = r.Header("retry-after");
    int64_t secs = 0;
    auto [p, perr] = std::from_chars(ra.data(), ra.data() + ra.size(), secs);
    e.retry_after_s = (perr == std::errc() && secs > 0) ? secs : 1;
  }
  return e;
}

}  // namespace parley::sdk
