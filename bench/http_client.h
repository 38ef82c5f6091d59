// A minimal HTTP/1.1 client for the setup calls (signup, login, health): one request per
// connection, JSON in and out. Not on the measured path, so simplicity wins over reuse.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string>
#include <utility>

#include "endpoint.h"
#include "result.h"

namespace parley::bench {

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string retry_after;  // the Retry-After header, if any
};

struct HttpRequest {
  HttpRequest(std::string m, std::string t) : method(std::move(m)), target(std::move(t)) {}
  std::string method = "GET";
  std::string target = "/";
  std::string body;          // sent as application/json when not empty
  std::string bearer_token;  // sent as "Authorization: Bearer ..." when not empty
  std::chrono::milliseconds timeout{30'000};
};

// Performs one request. Transport failures (refused, timeout, reset) are an Error with
// kServerUnreachable; any HTTP status, including 4xx/5xx, is a successful HttpResponse.
boost::asio::awaitable<Result<HttpResponse>> HttpCall(const Endpoint& ep, HttpRequest req);

// "METHOD /path -> 409 conflict: username taken" from an error body of the API's shape.
std::string DescribeHttpError(const HttpRequest& req, const HttpResponse& resp);

}  // namespace parley::bench
