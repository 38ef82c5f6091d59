// The E2EE engine of one device: X3DH + Double Ratchet pairwise sessions carry Sender Key
// distributions; conversation messages are encrypted once with the device's sender key
// (docs/protocol.md). It talks to the server only through KeyDirectory and ConversationMembers
// and keeps every secret in the StateStore (ports.h).
//
// Contract for every method:
// - Failures are Result errors, never exceptions. A failed call leaves the StateStore unchanged,
//   except where noted (EncryptMessage may have advanced pairwise sessions; that is harmless).
// - State changes are committed in one StateStore::Commit batch, after every AEAD/signature check
//   succeeded; a message key is never reused (state is committed before ciphertext leaves).
// - Not thread-safe: one Engine per device, called from one thread at a time. Construct cheaply,
//   then Bootstrap() once per start before anything else.
//
// Error codes of the decrypting calls (decrypt_error.h-like contract, kept in ErrorCode):
//   kNotFound         no sender key (or prekey) for this message yet: keep the message pending and
//                     retry after processing the to-device messages that arrived with it
//   kConflict         replay: the message's key was already used (or evicted); drop it
//   kForbidden        authentication failed: tampered, forged, or not for us; drop it
//   kInvalidArgument  malformed: bad base64, unknown version, truncated, over a bound; drop it
//   kInternal         corrupted local state or a bug
// Directory errors (kUnavailable, kRateLimited, …) pass through unchanged: retry later.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "common/result.h"
#include "sdk/crypto/media.h"
#include "sdk/crypto/primitives.h"
#include "sdk/e2ee/ports.h"
#include "sdk/e2ee/records.h"

namespace parley::sdk::e2ee {

inline constexpr char kEncryptionE2eeV1[] = "e2ee-v1";

// Search-key epochs (a u32 on the wire). kMaxSearchEpoch is the highest an engine issues or
// accepts (2^32 - 1 is never valid, so no increment wraps); a rotation at it drops the key
// instead. A received epoch may lie at most kMaxSearchEpochStep above the epoch held (0 when
// none): a member who got ahead by more than that has sent something no rotation produces.
inline constexpr uint32_t kMaxSearchEpoch = UINT32_MAX - 1;
inline constexpr uint32_t kMaxSearchEpochStep = 1u << 16;

struct EngineOptions {
  crypto::RandomFn random = crypto::SystemRandom();
  std::function<int64_t()> now_s;                  // default: the system clock (Unix seconds)
  int initial_one_time_prekeys = 100;
  int min_one_time_prekeys = 20;                   // replenish to `initial` below this
  int64_t signed_prekey_rotation_s = 7 * 86400;    // rotate the signed prekey weekly
  int64_t old_signed_prekey_keep_s = 30 * 86400;   // keep retired signed prekeys 30 days
};

// A contact device's signing key differs from the one first seen (TOFU). The engine continues
// with the new key; the app should show a warning and offer to compare safety numbers.
struct KeyChange {
  std::string user_id, device_id;
  std::string old_signing_key, new_signing_key;  // base64
};

class Engine {
 public:
  Engine(StateStore& store, KeyDirectory& directory, ConversationMembers& members,
         std::string user_id, std::string device_id, EngineOptions options = {});

  // First call: creates the identity, a signed prekey and `initial_one_time_prekeys` one-time
  // prekeys and publishes them. Later calls: republish if the first publish failed, replenish
  // one-time prekeys when the server holds fewer than `min_one_time_prekeys`, rotate the signed
  // prekey when older than `signed_prekey_rotation_s`, delete retired ones after
  // `old_signed_prekey_keep_s`. Call at start and now and then (e.g. after a prekey message).
  Result<Unit> Bootstrap();

  // This device's public keys (base64), after Bootstrap.
  Result<std::string> SigningKey();

  // Encrypts `plaintext` for `conversation_id`, whose members are `member_user_ids` (the
  // sender's own user is added if missing, so the sender's other devices can read). Lists each
  // member's devices, opens pairwise sessions where missing (claiming one prekey bundle per new
  // device), rotates the sender key if a device that held it is no longer a member device, sends
  // the sender key to devices that lack it (one SendToDevice call), then returns the message body
  // (standard base64) to send with encryption "e2ee-v1".
  // Errors: kPayloadTooLarge (plaintext over ~48 KiB: the body must fit 64 KiB),
  // kInvalidArgument (an id with '\n' or over 256 bytes), directory errors. Member devices whose
  // keys are malformed or badly signed are skipped (they cannot read this message).
  Result<std::string> EncryptMessage(const std::string& conversation_id,
                                     const std::vector<std::string>& member_user_ids,
                                     std::string_view plaintext);

  // Decrypts a conversation message from (sender_user_id, sender_device_id), ids as the server
  // reported them. Errors as listed above; kNotFound when the sender key has not arrived yet.
  // A device cannot decrypt its own messages (it keeps its plaintext): kNotFound.
  Result<std::string> DecryptMessage(const std::string& conversation_id,
                                     const std::string& sender_user_id,
                                     const std::string& sender_device_id, std::string_view body);

  // Processes one to-device message (a pairwise envelope carrying a sender key distribution for
  // one conversation, maybe with its search key). Its key material is applied only when
  //  1. the sender user belongs to the distribution's conversation: this user itself (any of its
  //     own devices), the peer of a direct conversation (the id is DirectConversationId of the
  //     two users), or a current member of a group as ConversationMembers lists it; and
  //  2. the key directory lists the sender device under that user with the signing key of the
  //     pairwise session that decrypted the message (a revoked or re-keyed device is refused);
  //  3. a search key's epoch is at most kMaxSearchEpoch and kMaxSearchEpochStep above the held one.
  // The sender key is stored as the sending device's own: a distribution names no other owner,
  // and message signatures bind the owner's ids, so a member cannot hand over someone else's.
  // A refusal is kForbidden (logged as a warning) and commits nothing, not even the ratchet step:
  // drop the message. Directory and membership outages pass through (retry later). kNotFound
  // here means the signed or one-time prekey it names is gone (drop the message).
  Result<Unit> HandleToDevice(const std::string& sender_user_id,
                              const std::string& sender_device_id, std::string_view body);

  // The 60-digit safety number between this user and `peer_user_id`, over the device signing keys
  // the directory lists now for both users. Directory errors pass through.
  Result<std::string> SafetyNumber(const std::string& peer_user_id);

  // Key changes seen since the last call (then cleared).
  std::vector<KeyChange> TakeKeyChanges();

  // Server-assisted search (opt-in, off by default). Enabling creates a conversation search key
  // if none is known and rotates this device's sender key so every member device receives it.
  Result<Unit> SetSearchEnabled(const std::string& conversation_id, bool enabled);
  // Tokens for the distinct words of `text` under the conversation's search key; empty when
  // search is off for it on this device. Use for send-message `search_tokens` and, space-joined,
  // as the search `q`.
  Result<std::vector<std::string>> SearchTokens(const std::string& conversation_id,
                                                std::string_view text);

  // Media (crypto/media.h): encrypt a file for upload, decrypt a downloaded blob.
  Result<crypto::MediaEncrypted> EncryptMedia(std::istream& in, std::ostream& out);
  static Result<Unit> DecryptMedia(std::istream& in, std::ostream& out,
                                   const crypto::MediaInfo& info);

 private:
  struct Device {
    std::string user_id, device_id;
    PrekeyBundle bundle;  // as listed (without a claimed one-time prekey)
  };
  using Writes = std::vector<StateStore::Write>;

  Result<MetaRecord> LoadMeta();
  Result<Unit> PublishKeys(const MetaRecord& meta, std::vector<std::pair<uint64_t, std::string>> otks);
  Result<std::vector<Device>> MemberDevices(const std::vector<std::string>& users);
  Result<Unit> ObserveSigningKey(const std::string& user, const std::string& device,
                                 const std::string& signing_key, Writes& writes,
                                 bool& changed);
  Result<std::vector<Session>> LoadSessions(const std::string& user, const std::string& device);
  Result<Session> StartSession(const MetaRecord& meta, const Device& device);
  Result<std::string> SealToDevice(Session& session, std::string_view payload);
  Result<Unit> AuthorizeKeySender(const std::string& conversation_id,
                                  const std::string& sender_user,
                                  const std::string& sender_device,
                                  const std::string& session_signing_key);
  Result<Unit> ApplyPayload(const std::string& sender_user, const std::string& sender_device,
                            const std::string& session_signing_key, std::string_view payload,
                            Writes& writes);
  Result<SearchKeyRecord> LoadSearchKey(const std::string& conversation_id);

  StateStore& store_;
  KeyDirectory& directory_;
  ConversationMembers& members_;
  const std::string user_id_, device_id_;
  EngineOptions options_;
  std::vector<KeyChange> key_changes_;
};

}  // namespace parley::sdk::e2ee
