// Safety numbers: Signal's numeric fingerprint (version 0, 5200 iterations of SHA-512), with
// Parley's choice of inputs: identifier = user_id (UTF-8), key = the concatenation of the user's
// device signing keys (Ed25519, 32 bytes each) sorted bytewise ascending.
//   h = SHA-512(0x00 0x00 || key || identifier); 5200 times h = SHA-512(h || key)
//   half = six 5-digit groups: big-endian 40-bit integer of h[5i..5i+5) mod 100000, zero-padded
//   number = the two 30-digit halves, the smaller (as a string) first → 60 digits
#pragma once

#include <string>
#include <vector>

namespace parley::sdk::crypto {

inline constexpr int kFingerprintIterations = 5200;

// The 30 digits of one party.
std::string FingerprintHalf(std::string_view key, std::string_view identifier);
// The key of a user: their device signing keys, sorted, concatenated.
std::string FingerprintKey(std::vector<std::string> signing_keys);
// The 60-digit number both users see.
std::string SafetyNumber(const std::vector<std::string>& local_signing_keys,
                         std::string_view local_user_id,
                         const std::vector<std::string>& remote_signing_keys,
                         std::string_view remote_user_id);

}  // namespace parley::sdk::crypto
