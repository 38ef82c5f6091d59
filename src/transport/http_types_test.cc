// What an error answer shows a client.
#include "transport/http_types.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace parley::transport {
namespace {

TEST(ErrorResponse, AnInternalErrorsOwnTextStaysInTheLog) {
  Error e = MakeError(ErrorCode::kInternal,
                      "sqlite: SELECT secret FROM users WHERE x: /var/lib/parley/parley.db");
  HttpResponse r = ErrorResponse(e);
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("SELECT"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("/var/lib"), std::string::npos) << r.body;
  auto body = boost::json::parse(r.body).as_object();
  EXPECT_EQ(body.at("error").at("code").as_string(), "internal");
  std::string message(body.at("error").at("message").as_string());
  EXPECT_EQ(message.rfind("internal error (ref ", 0), 0u) << message;
  EXPECT_NE(ClientMessage(e), ClientMessage(e));  // a reference of its own each time
}

TEST(ErrorResponse, OtherErrorsKeepTheirMessage) {
  HttpResponse r = ErrorResponse(MakeError(ErrorCode::kInvalidArgument, "limit must be 1-200"));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("limit must be 1-200"), std::string::npos);
}

}  // namespace
}  // namespace parley::transport
