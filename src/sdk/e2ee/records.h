// The engine's records in the StateStore: their kinds, ids and binary layouts (all start with a
// version byte 0x01; docs/protocol.md "Local state"). Parse functions reject anything malformed,
// so a corrupted store gives kInternal errors instead of undefined behaviour.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "common/result.h"
#include "sdk/crypto/double_ratchet.h"
#include "sdk/crypto/sender_key.h"

namespace parley::sdk::e2ee {

// StateStore kinds.
inline constexpr char kKindMeta[] = "e2ee_meta";              // id "self"
inline constexpr char kKindSignedPrekey[] = "e2ee_spk";       // id = 20-digit key id
inline constexpr char kKindOneTimePrekey[] = "e2ee_otk";      // id = 20-digit key id
inline constexpr char kKindSession[] = "e2ee_session";        // id = user \n device
inline constexpr char kKindPeerIdentity[] = "e2ee_peer";      // id = user \n device
inline constexpr char kKindSenderChain[] = "e2ee_chain";      // id = conversation
inline constexpr char kKindSenderReceiver[] = "e2ee_recv";    // id = conv \n user \n device \n hex(chain)
inline constexpr char kKindSearchKey[] = "e2ee_search";       // id = conversation
inline constexpr char kKindReceiverIndex[] = "e2ee_recv_index";  // id = conv \n user \n device

std::string KeyIdName(uint64_t id);  // zero-padded so the store's id order is numeric order
// The key id of a KeyIdName (exactly 20 digits); std::nullopt for anything else (a corrupt store).
std::optional<uint64_t> ParseKeyIdName(std::string_view name);

struct MetaRecord {
  std::string identity_seed;
  uint64_t next_one_time_prekey_id = 1;
  uint64_t next_signed_prekey_id = 1;
  uint64_t published_otk_below = 1;  // every one-time prekey id below this was published
  bool published = false;            // the current signed prekey was published
};
std::string EncodeMeta(const MetaRecord& m);
Result<MetaRecord> DecodeMeta(std::string_view b);

struct SignedPrekeyRecord {
  std::string private_key, public_key, signature;
  int64_t created_at = 0;
  int64_t retired_at = 0;  // 0 = the current signed prekey
};
std::string EncodeSignedPrekey(const SignedPrekeyRecord& r);
Result<SignedPrekeyRecord> DecodeSignedPrekey(std::string_view b);

struct Session {
  std::string peer_signing_key;
  std::string base_key;  // the initiator's X3DH ephemeral public key
  bool pending_prekey = false;  // initiator, until the peer answered: send prekey messages
  uint64_t signed_prekey_id = 0;
  std::optional<uint64_t> one_time_prekey_id;
  crypto::RatchetState ratchet;
};
inline constexpr size_t kMaxSessionsPerDevice = 4;  // newest first
std::string EncodeSessions(const std::vector<Session>& s);
Result<std::vector<Session>> DecodeSessions(std::string_view b);

// A device that received a chain: user_id, device_id and its signing key at that time (a device
// that shows up with another key is a new holder, and the old one makes the chain rotate).
using Holder = std::tuple<std::string, std::string, std::string>;
struct OwnChainRecord {
  crypto::SenderChain chain;
  std::set<Holder> recipients;
};
std::string EncodeOwnChain(const OwnChainRecord& r);
Result<OwnChainRecord> DecodeOwnChain(std::string_view b);

struct SearchKeyRecord {
  bool enabled = false;  // this device attaches search tokens
  uint32_t epoch = 0;
  std::string key;       // empty = none known
};
// The chain ids held for one sender device in one conversation, oldest first (bounded).
inline constexpr size_t kMaxChainsPerSenderDevice = 16;
std::string EncodeChainIndex(const std::vector<std::string>& chain_ids);
Result<std::vector<std::string>> DecodeChainIndex(std::string_view b);

std::string EncodeSearchKey(const SearchKeyRecord& r);
Result<SearchKeyRecord> DecodeSearchKey(std::string_view b);

}  // namespace parley::sdk::e2ee
