// The pairwise (to-device) envelope: a Double Ratchet message, the first ones of a session
// carrying the X3DH initial fields (docs/protocol.md, "To-device envelope").
//   0x01 version || u8 type (1 = prekey message, 2 = message)
//   type 1 only: sender signing key (32) || ephemeral key (32) || u64 signed prekey id ||
//                u8 has_one_time_prekey (0|1) || [u64 one-time prekey id]
//   ratchet header (40) || AEAD ciphertext (≥ 16)
// The plaintext inside is a payload: 0x01 = sender key distribution (sender_key.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/result.h"
#include "sdk/crypto/double_ratchet.h"

namespace parley::sdk::e2ee {

inline constexpr uint8_t kEnvelopeVersion = 1;
inline constexpr size_t kMaxEnvelopeBytes = 64 * 1024;  // decoded

struct PrekeyFields {
  std::string signing_key;  // the initiator's Ed25519 identity
  std::string ephemeral;    // EK_A
  uint64_t signed_prekey_id = 0;
  std::optional<uint64_t> one_time_prekey_id;
};

struct Envelope {
  std::optional<PrekeyFields> prekey;
  crypto::RatchetHeader header;
  std::string ciphertext;
};

std::string EncodeEnvelope(const Envelope& e);
// kInvalidArgument: unknown version or type, truncated, over kMaxEnvelopeBytes.
Result<Envelope> DecodeEnvelope(std::string_view bytes);

}  // namespace parley::sdk::e2ee
