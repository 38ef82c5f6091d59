// The WebSocket protocol (RFC 6455) on the server's side, without I/O: the handshake's answer,
// the frames a client sends parsed into messages, the frames a server sends built.
// transport/ws_connection.h puts it on a socket.
//
//   FrameParser parser(1 << 20);                  // messages up to 1 MiB
//   std::string_view data = bytes_read;
//   WsEvent ev;
//   while (parser.Next(data, ev) == ParseStatus::kEvent) { … }   // data: the unparsed rest
//
// The parser enforces the RFC's rules for a client: every frame masked, no reserved bits or
// opcodes (no extension is negotiated), lengths in their shortest form, control frames whole
// and ≤ 125 bytes, fragments in order, text valid UTF-8, close codes valid. A violation ends with
// kError and the close code to send (1002 protocol, 1007 bad UTF-8, 1009 too big).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace parley::transport {

// Close codes (RFC 6455 section 7.4.1).
inline constexpr uint16_t kWsCloseNormal = 1000;
inline constexpr uint16_t kWsCloseNoStatus = 1005;  // a close frame without a code; never sent
inline constexpr uint16_t kWsCloseProtocolError = 1002;
inline constexpr uint16_t kWsCloseBadData = 1007;
inline constexpr uint16_t kWsClosePolicy = 1008;
inline constexpr uint16_t kWsCloseTooBig = 1009;
inline constexpr uint16_t kWsCloseTryAgainLater = 1013;

enum class WsOpcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// What the client said: a whole message (its fragments joined) or a control frame.
struct WsEvent {
  enum class Kind { kText, kBinary, kPing, kPong, kClose };
  Kind kind = Kind::kText;
  std::string payload;           // unmasked; for kClose, the reason
  uint16_t close_code = 0;       // kClose: the code, or kWsCloseNoStatus
};

enum class ParseStatus {
  kEvent,     // `ev` holds the next event
  kNeedMore,  // no whole frame left: `data` is what to keep and pass again with more bytes
  kError,     // the client broke the protocol: close with error_code()
};

class FrameParser {
 public:
  explicit FrameParser(size_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

  // Parses frames from the front of `data`, moving it past each frame consumed, until one
  // completes an event (kEvent), no whole frame is left (kNeedMore), or a rule is broken
  // (kError: stop reading; what is left of `data` is unspecified). A frame that would make its
  // message longer than max_message_bytes fails as soon as its header is read, before its
  // payload arrives.
  ParseStatus Next(std::string_view& data, WsEvent& ev);
  uint16_t error_code() const { return error_code_; }
  // Heap bytes held for a fragmented message in progress (0 between messages).
  size_t held_capacity() const {
    return message_.capacity() > std::string().capacity() ? message_.capacity() : 0;
  }

 private:
  ParseStatus Fail(uint16_t code) {
    error_code_ = code;
    return ParseStatus::kError;
  }

  size_t max_message_bytes_;
  std::string message_;          // fragments of the message in progress, unmasked
  bool in_message_ = false;      // a fragmented message started and not finished
  bool message_is_text_ = false;
  uint16_t error_code_ = 0;
};

// Appends one whole server frame (FIN set, not masked: RFC 6455 section 5.2) holding `payload`.
void AppendWsFrame(std::string& out, WsOpcode op, std::string_view payload);
// Appends a close frame with `code` and `reason` (cut to the 123 bytes a control frame allows, at
// a UTF-8 boundary); kWsCloseNoStatus appends one without a body.
void AppendWsClose(std::string& out, uint16_t code, std::string_view reason);

// Whether a client may send `code` in a close frame (section 7.4: 1000–1003, 1007–1014, 3000–4999).
bool ValidCloseCode(uint16_t code);

// The 101 answer to an upgrade request that carried `key` (Sec-WebSocket-Key) and `version`
// (Sec-WebSocket-Version), with `server` as its Server field; kInvalidArgument when the key is
// not 16 bytes in base64 or the version is not 13.
Result<std::string> WsAcceptResponse(std::string_view key, std::string_view version,
                                     std::string_view server);

}  // namespace parley::transport
