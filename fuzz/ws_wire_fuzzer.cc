// The WebSocket wire as a client writes it, through FrameParser (transport/ws_frame.h): the first
// byte picks the size of the reads the rest is cut into (1 … 256 bytes, as a socket might hand
// them over); unconsumed bytes are kept and passed again with the next read, as WsConnection
// does. Checks what the parser promises, and that the server's frames of each event's payload
// parse back (masked as a client would) to the same payload.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/encoding.h"
#include "transport/ws_frame.h"

using namespace parley;
using namespace parley::transport;

#define FUZZ_CHECK(cond) \
  if (!(cond)) __builtin_trap()

namespace {
constexpr size_t kMax = 4096;

// A server frame turned into the client frame a second parser accepts: mask bit and key added.
std::string AsClientFrame(const std::string& server) {
  size_t head = 2;
  const uint8_t len7 = static_cast<uint8_t>(server[1]) & 0x7F;
  if (len7 == 126) head = 4;
  if (len7 == 127) head = 10;
  std::string out = server.substr(0, head);
  out[1] = static_cast<char>(static_cast<uint8_t>(out[1]) | 0x80);
  const char key[4] = {'\x11', '\x22', '\x33', '\x44'};
  out.append(key, 4);
  for (size_t i = head; i < server.size(); ++i) {
    out += static_cast<char>(server[i] ^ key[(i - head) % 4]);
  }
  return out;
}

void RoundTrip(const WsEvent& ev) {
  std::string server;
  if (ev.kind == WsEvent::Kind::kClose) {
    AppendWsClose(server, ev.close_code, ev.payload);
  } else {
    const WsOpcode op = ev.kind == WsEvent::Kind::kText     ? WsOpcode::kText
                        : ev.kind == WsEvent::Kind::kBinary ? WsOpcode::kBinary
                        : ev.kind == WsEvent::Kind::kPing   ? WsOpcode::kPing
                                                            : WsOpcode::kPong;
    AppendWsFrame(server, op, ev.payload);
  }
  FrameParser back(kMax);
  std::string client = AsClientFrame(server);
  std::string_view data = client;
  WsEvent again;
  FUZZ_CHECK(back.Next(data, again) == ParseStatus::kEvent);
  FUZZ_CHECK(data.empty());
  FUZZ_CHECK(again.kind == ev.kind && again.payload == ev.payload);
  if (ev.kind == WsEvent::Kind::kClose) FUZZ_CHECK(again.close_code == ev.close_code);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t step = 1 + data[0];
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  FrameParser parser(kMax);
  std::string held;
  for (size_t at = 0; at < input.size(); at += step) {
    held.append(input.substr(at, step));
    std::string_view rest = held;
    WsEvent ev;
    ParseStatus st;
    while ((st = parser.Next(rest, ev)) == ParseStatus::kEvent) {
      FUZZ_CHECK(ev.payload.size() <= kMax);
      switch (ev.kind) {
        case WsEvent::Kind::kText:
          FUZZ_CHECK(IsUtf8(ev.payload));
          break;
        case WsEvent::Kind::kBinary:
          break;
        case WsEvent::Kind::kPing:
        case WsEvent::Kind::kPong:
          FUZZ_CHECK(ev.payload.size() <= 125);
          break;
        case WsEvent::Kind::kClose:
          FUZZ_CHECK(ev.payload.size() <= 123 && IsUtf8(ev.payload));
          FUZZ_CHECK(ev.close_code == kWsCloseNoStatus || ValidCloseCode(ev.close_code));
          break;
      }
      RoundTrip(ev);
    }
    if (st == ParseStatus::kError) {
      const uint16_t code = parser.error_code();
      FUZZ_CHECK(code == kWsCloseProtocolError || code == kWsCloseBadData ||
                 code == kWsCloseTooBig);
      return 0;
    }
    FUZZ_CHECK(rest.size() <= held.size());
    held = std::string(rest);
  }
  return 0;
}
