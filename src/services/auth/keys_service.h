// Key directory: devices publish their E2EE public keys; others claim one one-time prekey per
// device to start a session. Keys are opaque base64 strings; the server never sees a private key.
#pragma once

#include "services/context.h"
#include "transport/router.h"

namespace parley::services {

class KeysService {
 public:
  explicit KeysService(Context& ctx) : ctx_(ctx) {}
  void Register(transport::Router& router);

 private:
  boost::asio::awaitable<transport::HttpResponse> Put(transport::HttpRequest& req);
  boost::asio::awaitable<transport::HttpResponse> Claim(transport::HttpRequest& req);
  boost::asio::awaitable<transport::HttpResponse> Count(transport::HttpRequest& req);
  Context& ctx_;
};

}  // namespace parley::services
