#include "sdk/api/http_key_directory.h"

#include <gtest/gtest.h>

#include "sdk/api/api_test_util.h"

namespace parley::sdk {
namespace {

using testing::NewUser;
using testing::TestServer;
using testing::TestUser;

PublishedKeys Keys(int prekeys) {
  PublishedKeys k;
  k.identity_key = "aWRlbnRpdHkta2V5LTMyLWJ5dGVzLXh4eHh4eHh4eHg=";
  k.signing_key = "c2lnbmluZy1rZXktMzItYnl0ZXMteHh4eHh4eHh4eHg=";
  k.signed_prekey_id = 7;
  k.signed_prekey = "c2lnbmVkLXByZWtleS0zMi1ieXRlcy14eHh4eHh4eHg=";
  k.signed_prekey_signature = "c2lnbmF0dXJl";
  for (int i = 1; i <= prekeys; ++i) k.one_time_prekeys.emplace_back(i, "b3RrLQ==" + std::to_string(i));
  return k;
}

TEST(SdkKeyDirectory, PublishListClaimSendToDevice) {
  TestServer server;
  ASSERT_TRUE(server.Start()) << server.log_path();
  TestUser a = NewUser(server, "keys");
  TestUser b = NewUser(server, "peer");
  HttpKeyDirectory dir_a(*a.api), dir_b(*b.api);
  ASSERT_OK(dir_a.Publish(Keys(3)));
  auto count = dir_a.CountOneTimePrekeys();
  ASSERT_OK(count);
  EXPECT_EQ(*count, 3);

  auto none = dir_b.ListDevices(b.user_id);  // published nothing
  ASSERT_OK(none);
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(dir_b.ListDevices(NewUuidV4()).error().code, ErrorCode::kNotFound);

  auto listed = dir_b.ListDevices(a.user_id);
  ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].device_id, a.device_id);
  EXPECT_EQ((*listed)[0].signed_prekey_id, 7);
  EXPECT_FALSE((*listed)[0].one_time_prekey_id.has_value());
  EXPECT_EQ(*dir_a.CountOneTimePrekeys(), 3) << "listing devices (?claim=false) claimed a prekey";

  auto bundle = dir_b.ClaimBundle(a.user_id, a.device_id);
  ASSERT_OK(bundle);
  EXPECT_EQ(bundle->identity_key, Keys(0).identity_key);
  ASSERT_TRUE(bundle->one_time_prekey_id.has_value());
  EXPECT_EQ(*bundle->one_time_prekey_id, 1);  // lowest key_id first
  EXPECT_EQ(*dir_a.CountOneTimePrekeys(), 2);
  EXPECT_EQ(dir_a.ClaimBundle(b.user_id, b.device_id).error().code, ErrorCode::kNotFound);

  ASSERT_OK(dir_b.SendToDevice({{a.user_id, {{a.device_id, "hello-device"}}}}));
  auto page = a.api->GetMessages("");
  ASSERT_OK(page);
  ASSERT_EQ(page->to_device.size(), 1u);
  EXPECT_EQ(page->to_device[0].body, "hello-device");
}

}  // namespace
}  // namespace parley::sdk
