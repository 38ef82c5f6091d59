// Helpers for the SDK's tests against a live parleyd (test code only).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/ids.h"
#include "sdk/api/api_client.h"
#include "sdk/testing/test_server.h"

namespace parley::sdk::testing {

inline std::string UniqueName(const std::string& prefix) {
  return prefix + "_" + NewUuidV4().substr(0, 8);
}

struct TestUser {
  std::unique_ptr<ApiClient> api;
  std::string username, password = "correct horse battery", user_id, device_id;
};

// Signs up a fresh user and logs in a new device.
inline TestUser NewUser(const TestServer& server, const std::string& prefix = "u") {
  TestUser u;
  auto api = ApiClient::Create(ApiOptions{server.url(), {}, {}});
  EXPECT_TRUE(api.ok());
  u.api = std::move(*api);
  u.username = UniqueName(prefix);
  auto s = u.api->Signup(u.username, u.password);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  auto l = u.api->Login(u.username, u.password, "test");
  EXPECT_TRUE(l.ok()) << (l.ok() ? "" : l.error().message);
  if (l.ok()) {
    u.user_id = l->user_id;
    u.device_id = l->device_id;
  }
  return u;
}

}  // namespace parley::sdk::testing

#define ASSERT_OK(expr)                                                        \
  do {                                                                         \
    const auto& _r = (expr); /* (expr) must not be a reference into a temporary */ \
    ASSERT_TRUE(_r.ok()) << #expr << ": " << (_r.ok() ? "" : _r.error().message); \
  } while (0)
