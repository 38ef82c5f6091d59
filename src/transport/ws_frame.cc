#include "transport/ws_frame.h"

#include <openssl/sha.h>
#include <sodium.h>

#include "common/encoding.h"

namespace parley::transport {

namespace {
constexpr size_t kMaxControlPayload = 125;
}  // namespace

bool ValidCloseCode(uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

ParseStatus FrameParser::Next(std::string_view& data, WsEvent& ev) {
  while (true) {
    // Header (section 5.2): 2 bytes, an extended length of 2 or 8, the 4-byte mask key.
    if (data.size() < 2) return ParseStatus::kNeedMore;
    const auto b0 = static_cast<uint8_t>(data[0]);
    const auto b1 = static_cast<uint8_t>(data[1]);
    const bool fin = b0 & 0x80;
    const uint8_t op = b0 & 0x0F;
    if (b0 & 0x70) return Fail(kWsCloseProtocolError);  // reserved bits: no extension agreed
    if (!(b1 & 0x80)) return Fail(kWsCloseProtocolError);  // a client masks every frame
    uint64_t len = b1 & 0x7F;
    size_t head = 2;
    if (len == 126) {
      if (data.size() < 4) return ParseStatus::kNeedMore;
      len = (uint64_t{static_cast<uint8_t>(data[2])} << 8) | static_cast<uint8_t>(data[3]);
      if (len < 126) return Fail(kWsCloseProtocolError);  // not the shortest form
      head = 4;
    } else if (len == 127) {
      if (data.size() < 10) return ParseStatus::kNeedMore;
      len = 0;
      for (int i = 2; i < 10; ++i) len = (len << 8) | static_cast<uint8_t>(data[i]);
      if (len <= 0xFFFF || (len >> 63)) return Fail(kWsCloseProtocolError);
      head = 10;
    }
    const bool control = op & 0x8;
    if (control) {
      if (op != 0x8 && op != 0x9 && op != 0xA) return Fail(kWsCloseProtocolError);
      if (!fin || len > kMaxControlPayload) return Fail(kWsCloseProtocolError);
    } else {
      if (op > 0x2) return Fail(kWsCloseProtocolError);
      if (op == 0x0 && !in_message_) return Fail(kWsCloseProtocolError);  // nothing to continue
      if (op != 0x0 && in_message_) return Fail(kWsCloseProtocolError);   // previous unfinished
      if (len > max_message_bytes_ || message_.size() + len > max_message_bytes_) {
        return Fail(kWsCloseTooBig);
      }
    }
    if (data.size() - head < 4 + len) return ParseStatus::kNeedMore;
    uint8_t mask[4];
    for (int i = 0; i < 4; ++i) mask[i] = static_cast<uint8_t>(data[head + i]);
    const char* payload = data.data() + head + 4;
    const size_t n = static_cast<size_t>(len);
    data.remove_prefix(head + 4 + n);

    auto unmask_into = [&](std::string& out) {
      const size_t base = out.size();
      out.resize(base + n);
      char* dst = out.data() + base;
      for (size_t i = 0; i < n; ++i) dst[i] = static_cast<char>(payload[i] ^ mask[i & 3]);
    };
    if (control) {
      ev.payload.clear();
      unmask_into(ev.payload);
      if (op == 0x9) {
        ev.kind = WsEvent::Kind::kPing;
      } else if (op == 0xA) {
        ev.kind = WsEvent::Kind::kPong;
      } else {
        ev.kind = WsEvent::Kind::kClose;
        if (ev.payload.empty()) {
          ev.close_code = kWsCloseNoStatus;
        } else {
          if (ev.payload.size() < 2) return Fail(kWsCloseProtocolError);
          ev.close_code = static_cast<uint16_t>((static_cast<uint8_t>(ev.payload[0]) << 8) |
                                                static_cast<uint8_t>(ev.payload[1]));
          if (!ValidCloseCode(ev.close_code)) return Fail(kWsCloseProtocolError);
          ev.payload.erase(0, 2);
          if (!IsUtf8(ev.payload)) return Fail(kWsCloseBadData);
        }
      }
      return ParseStatus::kEvent;
    }
    if (op != 0x0) message_is_text_ = op == 0x1;
    if (fin && !in_message_) {
      // A whole message in one frame (the usual case): straight into the event.
      ev.payload.clear();
      unmask_into(ev.payload);
    } else {
      unmask_into(message_);
      in_message_ = !fin;
      if (!fin) continue;
      ev.payload = std::move(message_);
      message_ = std::string();  // nothing kept between messages
    }
    if (message_is_text_ && !IsUtf8(ev.payload)) return Fail(kWsCloseBadData);
    ev.kind = message_is_text_ ? WsEvent::Kind::kText : WsEvent::Kind::kBinary;
    ev.close_code = 0;
    return ParseStatus::kEvent;
  }
}

void AppendWsFrame(std::string& out, WsOpcode op, std::string_view payload) {
  char head[10];
  size_t h = 0;
  head[h++] = static_cast<char>(0x80 | static_cast<uint8_t>(op));
  const uint64_t len = payload.size();
  if (len < 126) {
    head[h++] = static_cast<char>(len);
  } else if (len <= 0xFFFF) {
    head[h++] = static_cast<char>(126);
    head[h++] = static_cast<char>(len >> 8);
    head[h++] = static_cast<char>(len);
  } else {
    head[h++] = static_cast<char>(127);
    for (int shift = 56; shift >= 0; shift -= 8) head[h++] = static_cast<char>(len >> shift);
  }
  out.append(head, h);
  out.append(payload);
}

void AppendWsClose(std::string& out, uint16_t code, std::string_view reason) {
  if (code == kWsCloseNoStatus) {
    AppendWsFrame(out, WsOpcode::kClose, {});
    return;
  }
  constexpr size_t kMaxReason = kMaxControlPayload - 2;
  if (reason.size() > kMaxReason) {
    size_t cut = kMaxReason;
    while (cut > 0 && (static_cast<uint8_t>(reason[cut]) & 0xC0) == 0x80) --cut;  // a boundary
    reason = reason.substr(0, cut);
  }
  std::string body;
  body.reserve(2 + reason.size());
  body += static_cast<char>(code >> 8);
  body += static_cast<char>(code & 0xFF);
  body.append(reason);
  AppendWsFrame(out, WsOpcode::kClose, body);
}

Result<std::string> WsAcceptResponse(std::string_view key, std::string_view version,
                                     std::string_view server) {
  if (version != "13") {
    return MakeError(ErrorCode::kInvalidArgument, "Sec-WebSocket-Version must be 13");
  }
  // Section 4.2.1: the key is 16 bytes in base64 (24 characters).
  unsigned char raw[18];
  size_t raw_len = 0;
  const char* end = nullptr;
  if (key.size() != 24 ||
      sodium_base642bin(raw, sizeof raw, key.data(), key.size(), nullptr, &raw_len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != key.data() + key.size() || raw_len != 16) {
    return MakeError(ErrorCode::kInvalidArgument, "Sec-WebSocket-Key must be 16 bytes in base64");
  }
  // Section 4.2.2: base64(SHA-1(key + the protocol's GUID)).
  std::string input(key);
  input += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  char accept[sodium_base64_ENCODED_LEN(SHA_DIGEST_LENGTH, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(accept, sizeof accept, digest, sizeof digest, sodium_base64_VARIANT_ORIGINAL);
  std::string res =
      "HTTP/1.1 101 Switching Protocols\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Accept: ";
  res += accept;
  res += "\r\nServer: ";
  res += server;
  res += "\r\n\r\n";
  return res;
}

}  // namespace parley::transport
