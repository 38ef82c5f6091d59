#include "common/ids.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>

namespace parley {
namespace {

std::string Format(const std::array<uint8_t, 16>& b) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 15]);
  }
  return out;
}

// 16 random bytes from libsodium, fetched 1 KiB at a time per thread: a message takes several
// ids, and each randombytes_buf call is a getrandom system call.
void RandomBytes16(uint8_t* out) {
  constexpr size_t kPool = 1024;
  thread_local std::array<uint8_t, kPool> pool;
  thread_local size_t used = kPool;
  if (used == kPool) {
    randombytes_buf(pool.data(), pool.size());
    used = 0;
  }
  std::memcpy(out, pool.data() + used, 16);
  sodium_memzero(pool.data() + used, 16);  // handed out once
  used += 16;
}

void SetVersion(std::array<uint8_t, 16>& b, int version) {
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | (version << 4));
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);
}

}  // namespace

std::string NewUuidV4() {
  std::array<uint8_t, 16> b;
  RandomBytes16(b.data());
  SetVersion(b, 4);
  return Format(b);
}

std::string NewUuidV7() {
  // (ms << 12 | counter) strictly increases; a counter overflow borrows the next millisecond.
  static std::atomic<uint64_t> last{0};
  uint64_t ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  uint64_t prev = last.load(std::memory_order_relaxed);
  uint64_t stamp;
  do {
    stamp = std::max(ms << 12, prev + 1);
  } while (!last.compare_exchange_weak(prev, stamp, std::memory_order_relaxed));
  uint64_t t = stamp >> 12;
  uint16_t counter = static_cast<uint16_t>(stamp & 0xfff);
  std::array<uint8_t, 16> b;
  RandomBytes16(b.data());
  for (int i = 0; i < 6; ++i) b[i] = static_cast<uint8_t>(t >> (40 - 8 * i));
  b[6] = static_cast<uint8_t>(0x70 | (counter >> 8));
  b[7] = static_cast<uint8_t>(counter & 0xff);
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);
  return Format(b);
}

std::optional<std::string> NormalizeUuid(std::string_view s) {
  if (s.size() != 36) return std::nullopt;
  std::string out(s);
  for (size_t i = 0; i < out.size(); ++i) {
    char& c = out[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return std::nullopt;
      continue;
    }
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  return out;
}

std::string DirectConversationId(std::string_view user_a, std::string_view user_b) {
  std::string_view lo = user_a < user_b ? user_a : user_b;
  std::string_view hi = user_a < user_b ? user_b : user_a;
  std::string input = "parley.direct.v1:";
  input.append(lo).append(":").append(hi);
  uint8_t digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const uint8_t*>(input.data()), input.size());
  std::array<uint8_t, 16> b;
  std::copy(digest, digest + 16, b.begin());
  SetVersion(b, 8);
  return Format(b);
}

}  // namespace parley
