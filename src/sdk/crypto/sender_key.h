// Sender Keys (Signal's group messaging construction): one symmetric chain per (conversation,
// sending device), shared with every member device, so a message is encrypted and stored once.
//   chain: random chain id (16 bytes), iteration (u32), chain key (32), Ed25519 signing key pair
//   KDF_CK as the Double Ratchet: mk = HMAC-SHA-256(ck, 0x01), ck' = HMAC-SHA-256(ck, 0x02)
//   k||n = HKDF-SHA-256(salt = 32 zero bytes, IKM = mk, info = "parley.sender-key.message.v1", 56)
//   AD  = 0x01 || u16 len || conversation_id || u16 len || sender user id || u16 len ||
//         sender device id || chain id || u32 iteration
//   message = 0x01 || chain id (16) || iteration (u32 BE) || ciphertext (pt + 16-byte tag)
//             || Ed25519 signature (64) over AD || ciphertext
// A receiver verifies the signature first, derives forward at most kMaxSenderKeySkip keys per
// message and keeps at most kMaxSenderKeySkipped unused keys per chain (oldest evicted).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "sdk/crypto/primitives.h"

namespace parley::sdk::crypto {

inline constexpr std::string_view kSenderKeyMessageInfo = "parley.sender-key.message.v1";
inline constexpr uint8_t kSenderKeyVersion = 1;
inline constexpr size_t kChainIdBytes = 16;
inline constexpr uint32_t kMaxSenderKeySkip = 1000;
inline constexpr size_t kMaxSenderKeySkipped = 2000;
inline constexpr size_t kMaxIdBytes = 256;  // conversation, user and device ids
// The decoded message (64 KiB of base64 on the wire is ~48 KiB; this is a generous bound).
inline constexpr size_t kMaxSenderKeyMessageBytes = 64 * 1024;

struct SenderKeyContext {
  std::string conversation_id, sender_user_id, sender_device_id;
};

// The sending device's own chain.
struct SenderChain {
  std::string chain_id;     // 16 bytes
  uint32_t iteration = 0;   // of the next message
  std::string chain_key;    // for `iteration`
  std::string signing_seed, signing_public;
};
SenderChain NewSenderChain(const RandomFn& random);

// A receiving device's copy of someone's chain.
struct SenderReceiver {
  std::string chain_id;
  uint32_t iteration = 0;   // next key the chain key derives
  std::string chain_key;
  std::string signing_public;
  std::vector<std::pair<uint32_t, std::string>> skipped;  // (iteration, mk), oldest first
};

std::string SenderKeyAd(const SenderKeyContext& ctx, std::string_view chain_id,
                        uint32_t iteration);

struct SenderKeyEncrypted {
  SenderChain chain;   // advanced by one
  std::string message; // binary
  std::string mk;      // for test vectors
};
Result<SenderKeyEncrypted> SenderKeyEncrypt(SenderChain chain, const SenderKeyContext& ctx,
                                            std::string_view plaintext);

// The routing fields of a message, to find the receiver state. kInvalidArgument when malformed
// (unknown version, truncated, too long).
struct SenderKeyMessageHeader {
  std::string chain_id;
  uint32_t iteration = 0;
};
Result<SenderKeyMessageHeader> ParseSenderKeyHeader(std::string_view message);

struct SenderKeyDecrypted {
  SenderReceiver receiver;  // the next state, to commit
  std::string plaintext;
  std::string mk;
};
// Errors: kInvalidArgument (malformed, another chain, skip beyond the bound), kForbidden (bad
// signature or AEAD tag), kConflict (replay: that key was already used or evicted).
Result<SenderKeyDecrypted> SenderKeyDecrypt(SenderReceiver receiver, const SenderKeyContext& ctx,
                                            std::string_view message);

// What a member device receives over a pairwise session to read a chain from `iteration` on.
struct SenderKeyDistribution {
  std::string conversation_id;
  std::string chain_id;
  uint32_t iteration = 0;
  std::string chain_key;
  std::string signing_public;
  // Opt-in server-assisted search: the conversation's search key and its epoch.
  std::optional<std::pair<uint32_t, std::string>> search_key;
};
std::string EncodeDistribution(const SenderKeyDistribution& d);
Result<SenderKeyDistribution> DecodeDistribution(std::string_view bytes);

std::string SerializeSenderChain(const SenderChain& c);
Result<SenderChain> ParseSenderChain(std::string_view bytes);
std::string SerializeSenderReceiver(const SenderReceiver& r);
Result<SenderReceiver> ParseSenderReceiver(std::string_view bytes);

}  // namespace parley::sdk::crypto
