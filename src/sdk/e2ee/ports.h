// The ports of the E2EE engine: what it needs from the outside world, kept abstract so the
// engine is testable with in-memory twins and the SDK plugs in the real server and local store.
// All calls are synchronous and made from the engine's caller's thread; implementations need not
// be thread-safe beyond that. Failures are Result values (common/result.h), never exceptions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace parley::sdk {

using parley::Unit;

// One device's public keys as the server's key directory serves them (GET /v1/keys/{user_id}).
// Keys are the base64 strings of the wire; the engine decodes and checks them.
struct PrekeyBundle {
  std::string user_id;
  std::string device_id;
  std::string identity_key;  // X25519 public key (32 bytes, base64)
  std::string signing_key;   // Ed25519 public key (32 bytes, base64) the identity key derives from
  int64_t signed_prekey_id = 0;
  std::string signed_prekey;            // X25519 public key, base64
  std::string signed_prekey_signature;  // Ed25519 signature, base64
  std::optional<int64_t> one_time_prekey_id;
  std::string one_time_prekey;  // base64; empty when the device had none left
};

// What a device publishes (PUT /v1/keys).
struct PublishedKeys {
  std::string identity_key, signing_key;
  int64_t signed_prekey_id = 0;
  std::string signed_prekey, signed_prekey_signature;
  std::vector<std::pair<int64_t, std::string>> one_time_prekeys;  // key_id, base64 public key
};

// The server's key directory and to-device queue.
class KeyDirectory {
 public:
  virtual ~KeyDirectory() = default;
  // PUT /v1/keys.
  virtual Result<Unit> Publish(const PublishedKeys& keys) = 0;
  // GET /v1/keys/count: one-time prekeys the server still holds for this device.
  virtual Result<int64_t> CountOneTimePrekeys() = 0;
  // The devices of `user_id` that published keys, without claiming any one-time prekey
  // (GET /v1/keys/{user_id}?claim=false). Empty when none; kNotFound for an unknown user.
  virtual Result<std::vector<PrekeyBundle>> ListDevices(const std::string& user_id) = 0;
  // One device's bundle, claiming (consuming) one of its one-time prekeys if any is left
  // (GET /v1/keys/{user_id}?device_id=D). kNotFound if that device has no published keys.
  virtual Result<PrekeyBundle> ClaimBundle(const std::string& user_id,
                                           const std::string& device_id) = 0;
  // POST /v1/send-to-device: user_id -> device_id -> body (an opaque string).
  virtual Result<Unit> SendToDevice(
      const std::map<std::string, std::map<std::string, std::string>>& messages) = 0;
};

// Who belongs to a group conversation now, per the server: the engine accepts key material
// (sender keys, search keys) for a conversation only from its members (engine.h). Direct
// conversations need no call: their id names the pair (common/ids.h DirectConversationId).
class ConversationMembers {
 public:
  virtual ~ConversationMembers() = default;
  // The user ids of the current members of `conversation_id` (a group conversation), as the
  // server lists them now. kNotFound (or kForbidden) when no such conversation is known to this
  // user or this user is not a member of it: not an outage, the engine refuses the key material.
  // Other errors (kUnavailable, kRateLimited, …) are transient: the caller retries later.
  virtual Result<std::vector<std::string>> Members(const std::string& conversation_id) = 0;
};

// Durable key/value storage for the engine's secret state (identity, prekeys, sessions, sender
// keys, known identities). `kind` is a short namespace ("session", "sender_key", …) and `id` a key
// within it. Values are opaque bytes. A Batch is applied atomically: all of it or none, so a
// decrypt commits its ratchet step together with whatever else it changed.
class StateStore {
 public:
  virtual ~StateStore() = default;
  // The value, or std::nullopt if absent (absence is not an error).
  virtual Result<std::optional<std::string>> Get(const std::string& kind, const std::string& id) = 0;
  // Every (id, value) of one kind, ordered by id.
  virtual Result<std::vector<std::pair<std::string, std::string>>> List(const std::string& kind) = 0;

  struct Write {
    std::string kind, id;
    std::optional<std::string> value;  // nullopt erases
  };
  // Applies every write atomically and durably before returning.
  virtual Result<Unit> Commit(const std::vector<Write>& batch) = 0;
};

}  // namespace parley::sdk
