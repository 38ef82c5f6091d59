#include "services/gateway/client_frame.h"

#include <gtest/gtest.h>

#include "services/chat/chat_requests.h"

namespace parley::services {
namespace {

constexpr const char* kConv = "0190a0b0-0000-7000-8000-000000000001";

TEST(ClientFrameTest, Types) {
  boost::json::value ref;
  auto ping = ParseClientFrame(R"({"type":"ping","ref":7})", &ref);
  ASSERT_TRUE(ping.ok());
  EXPECT_EQ(ping->type, ClientFrameType::kPing);
  EXPECT_EQ(ref, boost::json::value(7));
  auto typing = ParseClientFrame(
      std::string(R"({"type":"typing","conversation_id":")") + kConv + "\"}", &ref);
  ASSERT_TRUE(typing.ok());
  EXPECT_EQ(typing->conversation_id, kConv);
  EXPECT_TRUE(ref.is_null());
  EXPECT_EQ(ParseClientFrame(R"({"type":"mark_read"})", &ref)->type, ClientFrameType::kMarkRead);
}

TEST(ClientFrameTest, RejectsKeepingTheRef) {
  boost::json::value ref;
  EXPECT_FALSE(ParseClientFrame("[1]", &ref).ok());
  EXPECT_TRUE(ref.is_null());
  EXPECT_FALSE(ParseClientFrame(R"({"type":"nope","ref":"a"})", &ref).ok());
  EXPECT_EQ(ref, boost::json::value("a"));
  EXPECT_FALSE(ParseClientFrame(R"({"type":"typing","conversation_id":"x","ref":1})", &ref).ok());
  EXPECT_EQ(ref, boost::json::value(1));
}

TEST(ClientFrameTest, AckToDevice) {
  boost::json::value ref;
  auto ok = ParseClientFrame(R"({"type":"ack_to_device","up_to_id":42,"ref":"r"})", &ref);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->type, ClientFrameType::kAckToDevice);
  EXPECT_EQ(ok->up_to_id, 42);
  EXPECT_EQ(ref, boost::json::value("r"));
  EXPECT_EQ(ParseClientFrame(R"({"type":"ack_to_device","up_to_id":9007199254740991})", &ref)
                ->up_to_id,
            kMaxToDeviceId);
  for (const char* bad : {R"({"type":"ack_to_device"})", R"({"type":"ack_to_device","up_to_id":0})",
                          R"({"type":"ack_to_device","up_to_id":-1})",
                          R"({"type":"ack_to_device","up_to_id":9007199254740992})",
                          R"({"type":"ack_to_device","up_to_id":1.5})",
                          R"({"type":"ack_to_device","up_to_id":"3"})",
                          R"({"type":"ack_to_device","up_to_id":null})"}) {
    auto r = ParseClientFrame(bad, &ref);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << bad;
  }
}

TEST(ChatRequestsTest, Send) {
  auto ok = ParseSendRequest(boost::json::object{
      {"conversation_id", kConv}, {"client_msg_id", "c1"}, {"body", "hi"},
      {"media_ids", boost::json::array{"0190A0B0-0000-7000-8000-000000000002"}}});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(*ok->conversation_id, kConv);
  EXPECT_EQ(ok->media_ids.at(0), "0190a0b0-0000-7000-8000-000000000002");
  EXPECT_FALSE(ParseSendRequest({{"client_msg_id", "c1"}, {"body", "hi"}}).ok());
  EXPECT_FALSE(ParseSendRequest({{"conversation_id", kConv}, {"to_user_id", kConv},
                                 {"client_msg_id", "c1"}, {"body", "hi"}})
                   .ok());
  EXPECT_FALSE(ParseSendRequest({{"conversation_id", kConv}, {"client_msg_id", "c1"},
                                 {"body", "hi"}, {"content_type", "system"}})
                   .ok());
}

TEST(ChatRequestsTest, Mark) {
  auto ok = ParseMarkRequest({{"conversation_id", kConv}, {"up_to_seq", 3}});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->up_to_seq, 3);
  EXPECT_FALSE(ParseMarkRequest({{"conversation_id", kConv}, {"up_to_seq", -1}}).ok());
}

}  // namespace
}  // namespace parley::services
