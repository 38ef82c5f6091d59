// KeyStore: the E2EE key directory. Keys are opaque strings; the server never holds a private key.
// Threading and errors as in auth_store.h.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "storage/model.h"

namespace parley::storage {

// How ClaimKeys reads the directory.
struct KeyClaim {
  bool claim = true;      // false: list the devices' keys, consume no one-time prekey
  std::string device_id;  // non-empty: only this device
};

class KeyStore {
 public:
  virtual ~KeyStore() = default;

  // Replaces the device's identity, signing and signed prekey, and adds its one-time prekeys
  // (a key_id already stored is replaced). kConflict if the device would hold more than
  // `max_one_time` one-time prekeys.
  virtual void PutKeys(DeviceKeys keys, size_t max_one_time, Done<Unit> done) = 0;
  // For each active device of `user_id` with published keys (only `how.device_id` if set): its
  // keys plus, when `how.claim`, one one-time prekey, which is removed (claimed once). An empty
  // list if the user (or that device) has none.
  virtual void ClaimKeys(std::string user_id, KeyClaim how, Done<std::vector<DeviceKeys>> done) = 0;
  virtual Result<int64_t> CountOneTimePrekeys(std::string_view device_id) = 0;
};

}  // namespace parley::storage
