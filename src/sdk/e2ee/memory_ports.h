// In-memory twins of the E2EE ports for tests: a StateStore over a std::map, and a fake server
// (key directory, to-device queues, group membership) shared by several devices' KeyDirectory
// and ConversationMembers views.
// Not thread-safe; header-only so any test target can use it.
#pragma once

#include <algorithm>
#include <deque>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "sdk/e2ee/ports.h"

namespace parley::sdk::e2ee {

class MemoryStateStore : public StateStore {
 public:
  Result<std::optional<std::string>> Get(const std::string& kind, const std::string& id) override {
    auto it = data_.find({kind, id});
    if (it == data_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Result<std::vector<std::pair<std::string, std::string>>> List(const std::string& kind) override {
    std::vector<std::pair<std::string, std::string>> out;
    for (auto it = data_.lower_bound({kind, ""}); it != data_.end() && it->first.first == kind; ++it) {
      out.emplace_back(it->first.second, it->second);
    }
    return out;
  }
  Result<Unit> Commit(const std::vector<Write>& batch) override {
    if (fail_commits > 0) {
      --fail_commits;
      return MakeError(ErrorCode::kUnavailable, "memory store: injected failure");
    }
    for (const auto& w : batch) {
      if (w.value) data_[{w.kind, w.id}] = *w.value;
      else data_.erase({w.kind, w.id});
    }
    ++commits;
    return Unit{};
  }
  // Everything, for before/after comparisons in tests.
  const std::map<std::pair<std::string, std::string>, std::string>& data() const { return data_; }

  int fail_commits = 0;  // the next N commits fail and change nothing
  int commits = 0;

 private:
  std::map<std::pair<std::string, std::string>, std::string> data_;
};

// The server side: published keys per device and to-device queues.
class FakeKeyServer {
 public:
  struct DeviceKeys {
    PublishedKeys keys;  // identity/signing/signed prekey as last published
    std::deque<std::pair<int64_t, std::string>> one_time_prekeys;  // lowest key_id first
  };
  struct ToDevice {
    std::string sender_user_id, sender_device_id, body;
  };

  // user -> device -> keys. A user exists once registered (even with no device).
  std::map<std::string, std::map<std::string, DeviceKeys>> users;
  std::map<std::pair<std::string, std::string>, std::deque<ToDevice>> queues;
  // Group conversation id -> its current members' user ids.
  std::map<std::string, std::vector<std::string>> conversations;
  bool fail_send_to_device = false;
  int claims = 0;

  void AddUser(const std::string& user) { users[user]; }
  // Revokes a device: its keys and queue disappear.
  void RemoveDevice(const std::string& user, const std::string& device) {
    users[user].erase(device);
    queues.erase({user, device});
  }
  std::vector<ToDevice> TakeQueue(const std::string& user, const std::string& device) {
    auto& q = queues[{user, device}];
    std::vector<ToDevice> out(q.begin(), q.end());
    q.clear();
    return out;
  }
};

class MemoryKeyDirectory : public KeyDirectory {
 public:
  MemoryKeyDirectory(FakeKeyServer& server, std::string user_id, std::string device_id)
      : server_(server), user_(std::move(user_id)), device_(std::move(device_id)) {
    server_.AddUser(user_);
  }

  Result<Unit> Publish(const PublishedKeys& keys) override {
    auto& d = server_.users[user_][device_];
    std::deque<std::pair<int64_t, std::string>> otks = std::move(d.one_time_prekeys);
    d.keys = keys;
    d.keys.one_time_prekeys.clear();
    for (const auto& k : keys.one_time_prekeys) {
      bool replaced = false;
      for (auto& e : otks) {
        if (e.first == k.first) { e.second = k.second; replaced = true; }
      }
      if (!replaced) otks.push_back(k);
    }
    std::sort(otks.begin(), otks.end());
    d.one_time_prekeys = std::move(otks);
    return Unit{};
  }
  Result<int64_t> CountOneTimePrekeys() override {
    return static_cast<int64_t>(server_.users[user_][device_].one_time_prekeys.size());
  }
  Result<std::vector<PrekeyBundle>> ListDevices(const std::string& user_id) override {
    auto it = server_.users.find(user_id);
    if (it == server_.users.end()) return MakeError(ErrorCode::kNotFound, "no such user");
    std::vector<PrekeyBundle> out;
    for (const auto& [device, d] : it->second) out.push_back(Bundle(user_id, device, d));
    return out;
  }
  Result<PrekeyBundle> ClaimBundle(const std::string& user_id,
                                   const std::string& device_id) override {
    auto it = server_.users.find(user_id);
    if (it == server_.users.end() || !it->second.count(device_id)) {
      return MakeError(ErrorCode::kNotFound, "no such device");
    }
    auto& d = it->second[device_id];
    PrekeyBundle b = Bundle(user_id, device_id, d);
    if (!d.one_time_prekeys.empty()) {
      b.one_time_prekey_id = d.one_time_prekeys.front().first;
      b.one_time_prekey = d.one_time_prekeys.front().second;
      d.one_time_prekeys.pop_front();
    }
    ++server_.claims;
    return b;
  }
  Result<Unit> SendToDevice(
      const std::map<std::string, std::map<std::string, std::string>>& messages) override {
    if (server_.fail_send_to_device) return MakeError(ErrorCode::kUnavailable, "injected");
    for (const auto& [user, devices] : messages) {
      for (const auto& [device, body] : devices) {
        if (!server_.users.count(user) || !server_.users[user].count(device)) {
          return MakeError(ErrorCode::kNotFound, "no such device");
        }
      }
    }
    for (const auto& [user, devices] : messages) {
      for (const auto& [device, body] : devices) {
        server_.queues[{user, device}].push_back({user_, device_, body});
      }
    }
    return Unit{};
  }

 private:
  static PrekeyBundle Bundle(const std::string& user, const std::string& device,
                             const FakeKeyServer::DeviceKeys& d) {
    PrekeyBundle b;
    b.user_id = user;
    b.device_id = device;
    b.identity_key = d.keys.identity_key;
    b.signing_key = d.keys.signing_key;
    b.signed_prekey_id = d.keys.signed_prekey_id;
    b.signed_prekey = d.keys.signed_prekey;
    b.signed_prekey_signature = d.keys.signed_prekey_signature;
    return b;
  }

  FakeKeyServer& server_;
  const std::string user_, device_;
};

// One user's view of the fake server's group membership: kNotFound unless that user is a member
// (as GET /v1/groups/{id} answers 403 to non-members).
class MemoryConversationMembers : public ConversationMembers {
 public:
  MemoryConversationMembers(FakeKeyServer& server, std::string user_id)
      : server_(server), user_(std::move(user_id)) {}

  Result<std::vector<std::string>> Members(const std::string& conversation_id) override {
    if (fail_next) {
      fail_next = false;
      return MakeError(ErrorCode::kUnavailable, "injected");
    }
    auto it = server_.conversations.find(conversation_id);
    if (it == server_.conversations.end() ||
        std::find(it->second.begin(), it->second.end(), user_) == it->second.end()) {
      return MakeError(ErrorCode::kNotFound, "no such conversation");
    }
    return it->second;
  }

  bool fail_next = false;  // the next call fails with kUnavailable

 private:
  FakeKeyServer& server_;
  const std::string user_;
};

}  // namespace parley::sdk::e2ee
