#include "ws_frame.h"

#include <cstring>
#include <random>

namespace parley::bench {

namespace {
bool IsControl(Opcode op) { return static_cast<uint8_t>(op) & 0x8; }
bool IsKnown(uint8_t op) { return op <= 0x2 || (op >= 0x8 && op <= 0xA); }
}  // namespace

ParseStatus ParseFrameHeader(std::string_view data, FrameHeader& h, std::string* error) {
  if (data.size() < 2) return ParseStatus::kIncomplete;
  const auto b0 = static_cast<uint8_t>(data[0]);
  const auto b1 = static_cast<uint8_t>(data[1]);
  if (b0 & 0x70) {
    *error = "reserved bits set (no extension was negotiated)";
    return ParseStatus::kError;
  }
  if (!IsKnown(b0 & 0x0F)) {
    *error = "unknown opcode " + std::to_string(b0 & 0x0F);
    return ParseStatus::kError;
  }
  h.fin = b0 & 0x80;
  h.opcode = static_cast<Opcode>(b0 & 0x0F);
  h.masked = b1 & 0x80;
  uint64_t len = b1 & 0x7F;
  size_t pos = 2;
  if (len == 126) {
    if (data.size() < pos + 2) return ParseStatus::kIncomplete;
    len = (uint64_t{static_cast<uint8_t>(data[2])} << 8) | static_cast<uint8_t>(data[3]);
    pos += 2;
  } else if (len == 127) {
    if (data.size() < pos + 8) return ParseStatus::kIncomplete;
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<uint8_t>(data[2 + i]);
    pos += 8;
  }
  if (IsControl(h.opcode) && (len > 125 || !h.fin)) {
    *error = "control frame fragmented or longer than 125 bytes";
    return ParseStatus::kError;
  }
  if (h.masked) {
    if (data.size() < pos + 4) return ParseStatus::kIncomplete;
    std::memcpy(&h.mask_key, data.data() + pos, 4);
    pos += 4;
  }
  h.payload_len = len;
  h.header_len = pos;
  return ParseStatus::kOk;
}

void ApplyMask(char* data, size_t n, uint32_t mask_key, size_t offset) {
  uint8_t key[4];
  std::memcpy(key, &mask_key, 4);
  size_t i = 0;
  if (offset % 4 == 0) {
    // The hot path: 8 bytes at a time with the key repeated twice.
    uint64_t k8;
    std::memcpy(&k8, key, 4);
    std::memcpy(reinterpret_cast<char*>(&k8) + 4, key, 4);
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, data + i, 8);
      w ^= k8;
      std::memcpy(data + i, &w, 8);
    }
  }
  for (; i < n; ++i) data[i] = static_cast<char>(data[i] ^ key[(offset + i) % 4]);
}

void AppendClientFrame(std::string& out, Opcode op, std::string_view payload, uint32_t mask_key) {
  const size_t n = payload.size();
  char header[14];
  size_t hl = 0;
  header[hl++] = static_cast<char>(0x80 | static_cast<uint8_t>(op));
  if (n < 126) {
    header[hl++] = static_cast<char>(0x80 | n);
  } else if (n <= 0xFFFF) {
    header[hl++] = static_cast<char>(0x80 | 126);
    header[hl++] = static_cast<char>(n >> 8);
    header[hl++] = static_cast<char>(n & 0xFF);
  } else {
    header[hl++] = static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) header[hl++] = static_cast<char>((uint64_t{n} >> (8 * i)) & 0xFF);
  }
  std::memcpy(header + hl, &mask_key, 4);
  hl += 4;
  const size_t start = out.size();
  out.resize(start + hl + n);
  std::memcpy(out.data() + start, header, hl);
  std::memcpy(out.data() + start + hl, payload.data(), n);
  ApplyMask(out.data() + start + hl, n, mask_key);
}

std::string MakeWebSocketKey() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::random_device rd;
  uint8_t raw[18] = {};  // 16 bytes of key, padded to a multiple of 3
  for (int i = 0; i < 16; ++i) raw[i] = static_cast<uint8_t>(rd());
  std::string out;
  for (int i = 0; i < 18; i += 3) {
    const uint32_t v = (raw[i] << 16) | (raw[i + 1] << 8) | raw[i + 2];
    for (int j = 3; j >= 0; --j) out += kAlphabet[(v >> (6 * j)) & 0x3F];
  }
  out.resize(22);
  return out + "==";
}

}  // namespace parley::bench
