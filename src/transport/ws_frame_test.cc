// The WebSocket framing of ws_frame.h without sockets: client frames as RFC 6455 builds them
// (masked), fed whole, byte by byte and broken, and the server frames and handshake answer.
#include "transport/ws_frame.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace parley::transport {
namespace {

// A client frame: FIN, RSV bits, opcode, masked with `mask` (unless `masked` is false), the
// length in its shortest form unless `len_bytes` forces 2 or 8 extended length bytes.
std::string ClientFrame(uint8_t opcode, std::string_view payload, bool fin = true,
                        bool masked = true, uint8_t rsv = 0, int len_bytes = 0) {
  const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  std::string f;
  f += static_cast<char>((fin ? 0x80 : 0) | (rsv << 4) | opcode);
  const uint64_t len = payload.size();
  const char m = masked ? static_cast<char>(0x80) : 0;
  if (len_bytes == 0) len_bytes = len < 126 ? 0 : len <= 0xFFFF ? 2 : 8;
  if (len_bytes == 0) {
    f += static_cast<char>(m | len);
  } else if (len_bytes == 2) {
    f += static_cast<char>(m | 126);
    f += static_cast<char>(len >> 8);
    f += static_cast<char>(len);
  } else {
    f += static_cast<char>(m | 127);
    for (int s = 56; s >= 0; s -= 8) f += static_cast<char>(len >> s);
  }
  if (masked) f.append(reinterpret_cast<const char*>(mask), 4);
  for (size_t i = 0; i < payload.size(); ++i) {
    f += masked ? static_cast<char>(payload[i] ^ mask[i % 4]) : payload[i];
  }
  return f;
}

std::string CloseBody(uint16_t code, std::string_view reason = {}) {
  std::string b;
  b += static_cast<char>(code >> 8);
  b += static_cast<char>(code & 0xFF);
  b.append(reason);
  return b;
}

struct Parsed {
  std::vector<WsEvent> events;
  ParseStatus last = ParseStatus::kNeedMore;
  uint16_t error = 0;
  size_t left = 0;  // bytes not consumed at kNeedMore
};

// Feeds `bytes` in pieces of `step` bytes (0: all at once), keeping the unconsumed rest as a
// connection does, until an error or the end.
Parsed Parse(const std::string& bytes, size_t step = 0, size_t max = 1 << 20) {
  FrameParser p(max);
  Parsed out;
  std::string held;
  size_t fed = 0;
  while (fed < bytes.size()) {
    const size_t n = step == 0 ? bytes.size() : std::min(step, bytes.size() - fed);
    held.append(bytes, fed, n);
    fed += n;
    std::string_view data = held;
    WsEvent ev;
    while ((out.last = p.Next(data, ev)) == ParseStatus::kEvent) out.events.push_back(ev);
    if (out.last == ParseStatus::kError) {
      out.error = p.error_code();
      return out;
    }
    held = std::string(data);
  }
  out.left = held.size();
  return out;
}

TEST(WsFrame, AMaskedTextFrameIsOneMessage) {
  Parsed r = Parse(ClientFrame(0x1, R"({"type":"ping"})"));
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].kind, WsEvent::Kind::kText);
  EXPECT_EQ(r.events[0].payload, R"({"type":"ping"})");
  EXPECT_EQ(r.last, ParseStatus::kNeedMore);
  EXPECT_EQ(r.left, 0u);
}

TEST(WsFrame, EveryLengthEncodingByteByByteAndWhole) {
  std::string bytes;
  const std::vector<std::string> payloads = {"", std::string(125, 'a'), std::string(126, 'b'),
                                             std::string(65535, 'c'), std::string(65536, 'd'),
                                             std::string(70000, 'e')};
  for (const auto& p : payloads) bytes += ClientFrame(0x2, p);
  for (size_t step : {size_t{0}, size_t{1}, size_t{7}, size_t{4096}}) {
    Parsed r = Parse(bytes, step);
    ASSERT_EQ(r.last, ParseStatus::kNeedMore) << "step " << step;
    ASSERT_EQ(r.events.size(), payloads.size()) << "step " << step;
    for (size_t i = 0; i < payloads.size(); ++i) {
      EXPECT_EQ(r.events[i].kind, WsEvent::Kind::kBinary);
      EXPECT_EQ(r.events[i].payload, payloads[i]) << "frame " << i << ", step " << step;
    }
    EXPECT_EQ(r.left, 0u);
  }
}

TEST(WsFrame, APartialFrameIsKeptNotConsumed) {
  const std::string f = ClientFrame(0x1, "hello");
  FrameParser p(1024);
  std::string_view data(f.data(), f.size() - 1);
  WsEvent ev;
  EXPECT_EQ(p.Next(data, ev), ParseStatus::kNeedMore);
  EXPECT_EQ(data.size(), f.size() - 1) << "a partial frame must stay for the next read";
}

TEST(WsFrame, FragmentsJoinAndControlFramesMayComeBetween) {
  std::string bytes = ClientFrame(0x1, "Hel", false) + ClientFrame(0x9, "are you there") +
                      ClientFrame(0x0, "lo, ", false) + ClientFrame(0x0, "wörld");
  for (size_t step : {size_t{0}, size_t{1}}) {
    Parsed r = Parse(bytes, step);
    ASSERT_EQ(r.events.size(), 2u);
    EXPECT_EQ(r.events[0].kind, WsEvent::Kind::kPing);
    EXPECT_EQ(r.events[0].payload, "are you there");
    EXPECT_EQ(r.events[1].kind, WsEvent::Kind::kText);
    EXPECT_EQ(r.events[1].payload, "Hello, wörld");
  }
  // A character split between fragments is valid once joined.
  Parsed split = Parse(ClientFrame(0x1, "\xc3", false) + ClientFrame(0x0, "\xa9"));
  ASSERT_EQ(split.events.size(), 1u);
  EXPECT_EQ(split.events[0].payload, "\xc3\xa9");
}

TEST(WsFrame, TheProtocolsRulesCloseWith1002) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"unmasked", ClientFrame(0x1, "x", true, false)},
      {"RSV1 (no extension agreed)", ClientFrame(0x1, "x", true, true, 4)},
      {"RSV3", ClientFrame(0x1, "x", true, true, 1)},
      {"reserved data opcode", ClientFrame(0x3, "x")},
      {"reserved control opcode", ClientFrame(0xB, "x")},
      {"fragmented control frame", ClientFrame(0x9, "x", false)},
      {"control frame of 126 bytes", ClientFrame(0x9, std::string(126, 'p'))},
      {"continuation with nothing to continue", ClientFrame(0x0, "x")},
      {"a new message inside a fragmented one",
       ClientFrame(0x1, "a", false) + ClientFrame(0x1, "b")},
      {"16-bit length for 5 bytes", ClientFrame(0x1, "hello", true, true, 0, 2)},
      {"64-bit length for 300 bytes", ClientFrame(0x1, std::string(300, 'x'), true, true, 0, 8)},
      {"close with a 1-byte body", ClientFrame(0x8, "x")},
      {"close code 1005 (never sent)", ClientFrame(0x8, CloseBody(1005))},
      {"close code 999", ClientFrame(0x8, CloseBody(999))},
      {"close code 2000", ClientFrame(0x8, CloseBody(2000))},
      {"close code 5000", ClientFrame(0x8, CloseBody(5000))},
  };
  for (const auto& [what, bytes] : cases) {
    Parsed r = Parse(bytes);
    EXPECT_EQ(r.last, ParseStatus::kError) << what;
    EXPECT_EQ(r.error, kWsCloseProtocolError) << what;
    EXPECT_TRUE(r.events.empty()) << what;
  }
  // The top bit of a 64-bit length.
  std::string huge = ClientFrame(0x2, "", true, true, 0, 8);
  huge[2] = static_cast<char>(0x80);
  EXPECT_EQ(Parse(huge).error, kWsCloseProtocolError);
}

TEST(WsFrame, InvalidUtf8InTextOrACloseReasonIs1007ButBinaryIsBytes) {
  EXPECT_EQ(Parse(ClientFrame(0x1, "caf\xe9")).error, kWsCloseBadData);
  EXPECT_EQ(Parse(ClientFrame(0x1, "\xc3", false) + ClientFrame(0x0, "x")).error, kWsCloseBadData);
  EXPECT_EQ(Parse(ClientFrame(0x8, CloseBody(1000, "\xff"))).error, kWsCloseBadData);
  Parsed bin = Parse(ClientFrame(0x2, "caf\xe9"));
  ASSERT_EQ(bin.events.size(), 1u);
  EXPECT_EQ(bin.events[0].payload, "caf\xe9");
}

TEST(WsFrame, AMessageTooLargeFailsAtItsHeaderWith1009) {
  // Only the header of a 2 MiB frame: refused before its payload is read or held.
  std::string header = ClientFrame(0x2, std::string(2 << 20, 'x')).substr(0, 14);
  Parsed r = Parse(header, 0, 1 << 20);
  EXPECT_EQ(r.last, ParseStatus::kError);
  EXPECT_EQ(r.error, kWsCloseTooBig);
  // Fragments that only together pass the limit.
  Parsed frag = Parse(ClientFrame(0x1, std::string(600, 'a'), false) +
                          ClientFrame(0x0, std::string(600, 'b')),
                      0, 1000);
  EXPECT_EQ(frag.error, kWsCloseTooBig);
  Parsed exact = Parse(ClientFrame(0x1, std::string(1000, 'a')), 0, 1000);
  EXPECT_EQ(exact.events.size(), 1u) << "exactly the limit is allowed";
}

TEST(WsFrame, CloseFramesCarryTheirCodeAndReason) {
  Parsed empty = Parse(ClientFrame(0x8, ""));
  ASSERT_EQ(empty.events.size(), 1u);
  EXPECT_EQ(empty.events[0].kind, WsEvent::Kind::kClose);
  EXPECT_EQ(empty.events[0].close_code, kWsCloseNoStatus);
  Parsed with = Parse(ClientFrame(0x8, CloseBody(4001, "bye")));
  ASSERT_EQ(with.events.size(), 1u);
  EXPECT_EQ(with.events[0].close_code, 4001);
  EXPECT_EQ(with.events[0].payload, "bye");
  Parsed pong = Parse(ClientFrame(0xA, "p"));
  ASSERT_EQ(pong.events.size(), 1u);
  EXPECT_EQ(pong.events[0].kind, WsEvent::Kind::kPong);
}

// A server frame read back: (opcode, payload) after checking FIN, no mask, shortest length.
std::pair<int, std::string> ReadServerFrame(const std::string& f) {
  EXPECT_GE(f.size(), 2u);
  EXPECT_EQ(static_cast<uint8_t>(f[0]) & 0xF0, 0x80) << "FIN set, no RSV bits";
  EXPECT_EQ(static_cast<uint8_t>(f[1]) & 0x80, 0) << "a server never masks";
  uint64_t len = static_cast<uint8_t>(f[1]) & 0x7F;
  size_t head = 2;
  if (len == 126) {
    len = (uint64_t{static_cast<uint8_t>(f[2])} << 8) | static_cast<uint8_t>(f[3]);
    EXPECT_GE(len, 126u);
    head = 4;
  } else if (len == 127) {
    len = 0;
    for (int i = 2; i < 10; ++i) len = (len << 8) | static_cast<uint8_t>(f[i]);
    EXPECT_GT(len, 0xFFFFu);
    head = 10;
  }
  EXPECT_EQ(f.size(), head + len);
  return {static_cast<uint8_t>(f[0]) & 0x0F, f.substr(head)};
}

TEST(WsFrame, ServerFramesUseTheShortestLengthAndNoMask) {
  for (size_t n : {size_t{0}, size_t{125}, size_t{126}, size_t{65535}, size_t{65536}}) {
    std::string out;
    AppendWsFrame(out, WsOpcode::kText, std::string(n, 'z'));
    auto [op, payload] = ReadServerFrame(out);
    EXPECT_EQ(op, 0x1);
    EXPECT_EQ(payload, std::string(n, 'z'));
  }
}

TEST(WsFrame, ACloseReasonIsCutToFitAtACharacterBoundary) {
  std::string out;
  std::string reason;
  for (int i = 0; i < 100; ++i) reason += "\xc3\xa9";  // 200 bytes of 2-byte characters
  AppendWsClose(out, 4002, reason);
  auto [op, body] = ReadServerFrame(out);
  EXPECT_EQ(op, 0x8);
  ASSERT_LE(body.size(), 125u);
  EXPECT_EQ(static_cast<uint8_t>(body[0]) << 8 | static_cast<uint8_t>(body[1]), 4002);
  EXPECT_EQ(body.size() - 2, 122u) << "123 bytes would split a character";
  std::string none;
  AppendWsClose(none, kWsCloseNoStatus, "ignored");
  EXPECT_EQ(ReadServerFrame(none).second, "");
}

TEST(WsFrame, TheHandshakeAnswersTheRfcsExampleAndRefusesBadRequests) {
  // RFC 6455 section 1.3's example key and accept value.
  auto r = WsAcceptResponse("dGhlIHNhbXBsZSBub25jZQ==", "13", "parleyd");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0u);
  EXPECT_NE(r->find("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
            std::string::npos);
  EXPECT_NE(r->find("\r\nUpgrade: websocket\r\n"), std::string::npos);
  EXPECT_NE(r->find("\r\nServer: parleyd\r\n"), std::string::npos);
  EXPECT_EQ(r->substr(r->size() - 4), "\r\n\r\n");
  EXPECT_FALSE(WsAcceptResponse("dGhlIHNhbXBsZSBub25jZQ==", "8", "p").ok());
  EXPECT_FALSE(WsAcceptResponse("dGhlIHNhbXBsZSBub25jZQ==", "", "p").ok());
  EXPECT_FALSE(WsAcceptResponse("", "13", "p").ok());
  EXPECT_FALSE(WsAcceptResponse("c2hvcnQ=", "13", "p").ok());                   // 5 bytes
  EXPECT_FALSE(WsAcceptResponse("dGhlIHNhbXBsZSBub25jZQ!!", "13", "p").ok());  // not base64
  EXPECT_EQ(WsAcceptResponse("", "13", "p").error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace parley::transport
