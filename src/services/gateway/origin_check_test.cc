#include "services/gateway/origin_check.h"

#include <gtest/gtest.h>

namespace parley::services {
namespace {

TEST(WsOriginAllowed, NoOriginIsANativeClient) {
  EXPECT_TRUE(WsOriginAllowed(std::nullopt, "chat.example", {}));
}

TEST(WsOriginAllowed, SameOriginIgnoringCaseAndDefaultPorts) {
  EXPECT_TRUE(WsOriginAllowed("http://127.0.0.1:8080", "127.0.0.1:8080", {}));
  EXPECT_TRUE(WsOriginAllowed("https://Chat.Example", "chat.example:443", {}));
  EXPECT_TRUE(WsOriginAllowed("http://chat.example:80", "chat.example", {}));
  EXPECT_FALSE(WsOriginAllowed("http://chat.example:8081", "chat.example:8080", {}));
  EXPECT_FALSE(WsOriginAllowed("https://chat.example", "chat.example:80", {}));
}

TEST(WsOriginAllowed, OtherOriginsOnlyWhenListed) {
  std::vector<std::string> list{"https://app.example", "HTTP://LOCALHOST:3000/"};
  EXPECT_FALSE(WsOriginAllowed("https://evil.example", "chat.example", {}));
  EXPECT_FALSE(WsOriginAllowed("https://evil.example", "chat.example", list));
  EXPECT_TRUE(WsOriginAllowed("https://app.example", "chat.example", list));
  EXPECT_TRUE(WsOriginAllowed("http://localhost:3000", "chat.example", list));
  EXPECT_FALSE(WsOriginAllowed("https://app.example.evil", "chat.example", list));
}

TEST(WsOriginAllowed, OpaqueOrMalformedOrigins) {
  EXPECT_FALSE(WsOriginAllowed("null", "chat.example", {}));
  EXPECT_FALSE(WsOriginAllowed("", "chat.example", {}));
  EXPECT_FALSE(WsOriginAllowed("file://", "", {}));
  EXPECT_FALSE(WsOriginAllowed("http://user@chat.example", "chat.example", {}));
  EXPECT_TRUE(WsOriginAllowed("null", "chat.example", {"*"}));
}

}  // namespace
}  // namespace parley::services
