#include "transport/http_types.h"

#include <boost/json/serialize.hpp>

#include "common/encoding.h"
#include "common/error_map.h"
#include "common/log.h"

namespace parley::transport {

HttpResponse JsonResponse(int status, const boost::json::value& body) {
  HttpResponse r;
  r.status = status;
  r.body = boost::json::serialize(body);
  return r;
}

HttpResponse EmptyResponse(int status) {
  HttpResponse r;
  r.status = status;
  r.content_type.clear();
  return r;
}

std::string ClientMessage(const Error& error) {
  if (error.code != ErrorCode::kInternal) return error.message;
  std::string ref = HexEncode(RandomBytes(4));
  LogError("internal error answered", {{"ref", ref}, {"error", error.message}});
  return "internal error (ref " + ref + ")";
}

HttpResponse ErrorResponse(const Error& error) {
  boost::json::object body{
      {"error", {{"code", CodeName(error.code)}, {"message", ClientMessage(error)}}}};
  HttpResponse r = JsonResponse(HttpStatusOf(error.code), body);
  if (error.code == ErrorCode::kRateLimited)
    r.headers.emplace_back("Retry-After", std::to_string(std::max<int64_t>(1, error.retry_after_s)));
  return r;
}

}  // namespace parley::transport
