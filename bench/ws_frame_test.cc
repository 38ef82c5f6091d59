#include "ws_frame.h"

#include <gtest/gtest.h>

#include <cstring>

namespace parley::bench {
namespace {

// Turns a client frame into what a server would see after unmasking.
std::string Unmask(std::string frame, FrameHeader& h) {
  std::string err;
  EXPECT_EQ(ParseFrameHeader(frame, h, &err), ParseStatus::kOk) << err;
  std::string payload = frame.substr(h.header_len);
  ApplyMask(payload.data(), payload.size(), h.mask_key);
  return payload;
}

TEST(WsFrame, RoundTripsAllLengthEncodings) {
  for (size_t n : {0u, 1u, 7u, 125u, 126u, 127u, 65535u, 65536u, 200000u}) {
    std::string payload(n, 'a');
    for (size_t i = 0; i < n; ++i) payload[i] = static_cast<char>('a' + i % 26);
    std::string frame;
    AppendClientFrame(frame, Opcode::kText, payload, 0xA1B2C3D4);
    FrameHeader h;
    EXPECT_EQ(Unmask(frame, h), payload) << n;
    EXPECT_TRUE(h.fin);
    EXPECT_TRUE(h.masked);
    EXPECT_EQ(h.opcode, Opcode::kText);
    EXPECT_EQ(h.payload_len, n);
    EXPECT_EQ(frame.size(), h.header_len + n);
  }
}

TEST(WsFrame, MasksAsRfc6455Example) {
  // RFC 6455 5.7: "Hello" masked with 37 fa 21 3d is 7f 9f 4d 51 58.
  std::string frame;
  const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
  uint32_t k;
  std::memcpy(&k, key, 4);
  AppendClientFrame(frame, Opcode::kText, "Hello", k);
  const unsigned char want[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  ASSERT_EQ(frame.size(), sizeof want);
  EXPECT_EQ(0, std::memcmp(frame.data(), want, sizeof want));
}

TEST(WsFrame, ParsesServerFramesAndReportsIncomplete) {
  const std::string unmasked("\x81\x05Hello", 7);
  FrameHeader h;
  std::string err;
  EXPECT_EQ(ParseFrameHeader(unmasked.substr(0, 1), h, &err), ParseStatus::kIncomplete);
  ASSERT_EQ(ParseFrameHeader(unmasked, h, &err), ParseStatus::kOk);
  EXPECT_FALSE(h.masked);
  EXPECT_EQ(h.header_len, 2u);
  EXPECT_EQ(h.payload_len, 5u);
  const std::string len16("\x01\x7e\x01", 3);  // 16-bit length cut short
  EXPECT_EQ(ParseFrameHeader(len16, h, &err), ParseStatus::kIncomplete);
  const std::string first_fragment("\x01\x7e\x01\x00", 4);
  ASSERT_EQ(ParseFrameHeader(first_fragment, h, &err), ParseStatus::kOk);
  EXPECT_FALSE(h.fin);
  EXPECT_EQ(h.payload_len, 256u);
}

TEST(WsFrame, RejectsBadFrames) {
  FrameHeader h;
  std::string err;
  EXPECT_EQ(ParseFrameHeader(std::string("\xC1\x00", 2), h, &err), ParseStatus::kError);  // RSV1
  EXPECT_EQ(ParseFrameHeader(std::string("\x83\x00", 2), h, &err), ParseStatus::kError);  // op 3
  EXPECT_EQ(ParseFrameHeader(std::string("\x89\x7e\x00\x80", 4), h, &err),
            ParseStatus::kError);  // long ping
  EXPECT_EQ(ParseFrameHeader(std::string("\x09\x00", 2), h, &err),
            ParseStatus::kError);  // fragmented ping
}

TEST(WsFrame, MaskWithOffsetMatchesWhole) {
  std::string a = "the quick brown fox jumps over the lazy dog";
  std::string b = a;
  ApplyMask(a.data(), a.size(), 0x01020304);
  ApplyMask(b.data(), 5, 0x01020304);
  ApplyMask(b.data() + 5, b.size() - 5, 0x01020304, 5);
  EXPECT_EQ(a, b);
}

TEST(WsFrame, KeyIsBase64Of16Bytes) {
  const std::string k = MakeWebSocketKey();
  EXPECT_EQ(k.size(), 24u);
  EXPECT_EQ(k.substr(22), "==");
}

}  // namespace
}  // namespace parley::bench
