// RFC 6455 framing for a client: encode masked frames, parse server frame headers. Pure functions
// over bytes, so they are unit tested without a socket (ws_frame_test.cc).
//
// Why not Beast's websocket::stream: it writes one frame per async_write, i.e. one syscall per
// message. A load generator that pipelines thousands of sends per second per connection would
// spend a core on syscalls; this codec lets WsConnection coalesce every queued frame into one write.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace parley::bench {

enum class Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

struct FrameHeader {
  bool fin = false;
  Opcode opcode = Opcode::kText;
  bool masked = false;  // server frames must not be; tolerated and unmasked if they are
  uint32_t mask_key = 0;
  uint64_t payload_len = 0;
  size_t header_len = 0;  // bytes before the payload
};

enum class ParseStatus { kIncomplete, kOk, kError };

// Parses the header at the start of `data`. kIncomplete: fewer bytes than the header needs (the
// payload may still be incomplete with kOk — check header_len + payload_len). kError sets *error.
ParseStatus ParseFrameHeader(std::string_view data, FrameHeader& h, std::string* error);

// Appends one client frame (FIN set, masked with mask_key) carrying payload.
void AppendClientFrame(std::string& out, Opcode op, std::string_view payload, uint32_t mask_key);

// XORs data with the 4-byte key, as if data started `offset` bytes into the payload.
void ApplyMask(char* data, size_t n, uint32_t mask_key, size_t offset = 0);

// A fresh Sec-WebSocket-Key: 16 random bytes, base64.
std::string MakeWebSocketKey();

}  // namespace parley::bench
