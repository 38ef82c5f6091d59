// ByteWriter/ByteReader: the big-endian binary layouts of the E2EE wire formats and stored state
// (docs/protocol.md). A reader never reads past its input: every read checks the remaining length
// and every variable-length field has an explicit bound, so truncated or oversized input fails.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace parley::sdk::crypto {

class ByteWriter {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U16(uint16_t v) { U8(v >> 8); U8(v & 0xff); }
  void U32(uint32_t v) { U16(v >> 16); U16(v & 0xffff); }
  void U64(uint64_t v) { U32(static_cast<uint32_t>(v >> 32)); U32(static_cast<uint32_t>(v)); }
  void Raw(std::string_view b) { out_.append(b); }
  // u16 length, then the bytes (callers keep fields ≤ 65535 bytes).
  void Str16(std::string_view b) { U16(static_cast<uint16_t>(b.size())); Raw(b); }
  // u32 length, then the bytes.
  void Str32(std::string_view b) { U32(static_cast<uint32_t>(b.size())); Raw(b); }
  const std::string& data() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool AtEnd() const { return ok_ && pos_ == in_.size(); }
  size_t remaining() const { return in_.size() - pos_; }

  uint8_t U8() { return Need(1) ? static_cast<uint8_t>(in_[pos_++]) : 0; }
  uint16_t U16() { uint16_t h = U8(); return static_cast<uint16_t>((h << 8) | U8()); }
  uint32_t U32() { uint32_t h = U16(); return (h << 16) | U16(); }
  uint64_t U64() { uint64_t h = U32(); return (h << 32) | U32(); }
  // Exactly n bytes.
  std::string Raw(size_t n) {
    if (!Need(n)) return {};
    std::string out(in_.substr(pos_, n));
    pos_ += n;
    return out;
  }
  // Everything left.
  std::string Rest() { return Raw(remaining()); }
  // A u16/u32 length-prefixed field of at most max bytes.
  std::string Str16(size_t max) { size_t n = U16(); return Bounded(n, max); }
  std::string Str32(size_t max) { size_t n = U32(); return Bounded(n, max); }
  void Fail() { ok_ = false; }

 private:
  bool Need(size_t n) {
    if (!ok_ || in_.size() - pos_ < n) ok_ = false;
    return ok_;
  }
  std::string Bounded(size_t n, size_t max) {
    if (n > max) ok_ = false;
    return ok_ ? Raw(n) : std::string();
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace parley::sdk::crypto
