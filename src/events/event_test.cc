#include "events/event.h"

#include <gtest/gtest.h>

#include <string>

namespace parley::events {
namespace {

TEST(EventFromJson, RoundTripsWhatSerializeWrites) {
  auto e = MakeEvent(type::kMessageSent, "3f1c0d2e-8a4b-4c2d-9e1f-0a1b2c3d4e5f",
                     {{"seq", 7}, {"nested", {{"a", "b"}}}});
  auto back = FromJson(Serialize(*e));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->event_id, e->event_id);
  EXPECT_EQ(back->type, e->type);
  EXPECT_EQ(back->occurred_at, e->occurred_at);
  EXPECT_EQ(back->key, e->key);
  EXPECT_EQ(back->payload, e->payload);
}

TEST(EventFromJson, AcceptsAnEmptyKeyUnknownFieldsAndUppercaseIds) {
  auto r = FromJson(R"({"event_id":"0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B","type":"AUDIT_RECORDED",)"
                    R"("occurred_at":0,"key":"","payload":{},"added_later":[1,2]})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->event_id, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
  EXPECT_EQ(r->key, "");
}

std::string Envelope(const std::string& id, const std::string& type, const std::string& at,
                     const std::string& key, const std::string& payload) {
  return R"({"event_id":)" + id + R"(,"type":)" + type + R"(,"occurred_at":)" + at +
         R"(,"key":)" + key + R"(,"payload":)" + payload + "}";
}

TEST(EventFromJson, RejectsMalformedEnvelopes) {
  const std::string id = R"("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")";
  const std::string ty = R"("MESSAGE_SENT")";
  const std::string at = "1700000000000";
  const std::string key = R"("k")";
  const std::string pl = "{}";
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += R"({"a":)";
  deep += "1";
  for (int i = 0; i < 40; ++i) deep += "}";
  const struct {
    const char* why;
    std::string text;
  } cases[] = {
      {"empty", ""},
      {"not JSON", "not json"},
      {"truncated", Envelope(id, ty, at, key, pl).substr(0, 40)},
      {"an array", "[]"},
      {"a string", R"("x")"},
      {"invalid UTF-8", Envelope(id, ty, at, "\"\xff\xfe\"", pl)},
      {"no event_id", R"({"type":"MESSAGE_SENT","occurred_at":1,"key":"k","payload":{}})"},
      {"event_id null", Envelope("null", ty, at, key, pl)},
      {"payload number overflows to infinity", Envelope(id, ty, at, key, R"({"n":[1, {"x":1e7941}]})")},
      {"event_id a number", Envelope("42", ty, at, key, pl)},
      {"event_id not a UUID", Envelope(R"("not-a-uuid")", ty, at, key, pl)},
      {"event_id too long", Envelope("\"" + std::string(100, 'a') + "\"", ty, at, key, pl)},
      {"no type", Envelope(id, "null", at, key, pl)},
      {"type empty", Envelope(id, R"("")", at, key, pl)},
      {"type lowercase", Envelope(id, R"("message_sent")", at, key, pl)},
      {"type with a space", Envelope(id, R"("MESSAGE SENT")", at, key, pl)},
      {"type too long", Envelope(id, "\"" + std::string(65, 'A') + "\"", at, key, pl)},
      {"type an object", Envelope(id, "{}", at, key, pl)},
      {"occurred_at a string", Envelope(id, ty, R"("1700000000000")", key, pl)},
      {"occurred_at a float", Envelope(id, ty, "1.5", key, pl)},
      {"occurred_at negative", Envelope(id, ty, "-1", key, pl)},
      {"occurred_at past 9999", Envelope(id, ty, "253402300800000", key, pl)},
      {"occurred_at past int64", Envelope(id, ty, "18446744073709551615", key, pl)},
      {"no key", Envelope(id, ty, at, "null", pl)},
      {"key a number", Envelope(id, ty, at, "5", pl)},
      {"key too long", Envelope(id, ty, at, "\"" + std::string(257, 'k') + "\"", pl)},
      {"no payload", Envelope(id, ty, at, key, "null")},
      {"payload an array", Envelope(id, ty, at, key, "[]")},
      {"payload a string", Envelope(id, ty, at, key, R"("{}")")},
      {"payload too deep", Envelope(id, ty, at, key, deep)},
      {"too large",
       Envelope(id, ty, at, key, R"({"x":")" + std::string(kMaxEnvelopeBytes, 'x') + "\"}")},
      {"trailing garbage", Envelope(id, ty, at, key, pl) + "x"},
  };
  for (const auto& c : cases) {
    auto r = FromJson(c.text);
    EXPECT_FALSE(r.ok()) << c.why;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << c.why;
    }
  }
}

TEST(EventFromJson, ErrorsNeverQuoteTheInput) {
  auto r = FromJson(Envelope(R"("SECRET-not-a-uuid")", R"("T")", "1", R"("k")", "{}"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.find("SECRET"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace parley::events
