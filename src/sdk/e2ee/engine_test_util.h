// The E2EE engine tests' fixture: devices over the in-memory twins (memory_ports.h), sharing one
// fake server. Header-only, for the engine's test files.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "sdk/crypto/primitives.h"
#include "sdk/e2ee/engine.h"
#include "sdk/e2ee/memory_ports.h"

namespace parley::sdk::e2ee::engine_test {

struct Device {
  Device(FakeKeyServer& server, std::string user, std::string device, int64_t* clock)
      : user_id(std::move(user)),
        device_id(std::move(device)),
        directory(server, user_id, device_id),
        members(server, user_id),
        engine(store, directory, members, user_id, device_id, Options(clock)) {}
  static EngineOptions Options(int64_t* clock) {
    EngineOptions o;
    o.now_s = [clock] { return *clock; };
    return o;
  }
  std::string user_id, device_id;
  MemoryStateStore store;
  MemoryKeyDirectory directory;
  MemoryConversationMembers members;
  Engine engine;
};

class E2eeEngine : public ::testing::Test {
 protected:
  Device& Add(const std::string& user, const std::string& device) {
    devices_.push_back(std::make_unique<Device>(server_, user, device, &clock_));
    EXPECT_TRUE(devices_.back()->engine.Bootstrap().ok());
    return *devices_.back();
  }
  // Processes every queued to-device message of `d`; returns how many failed.
  int Sync(Device& d) {
    int failed = 0;
    for (const auto& m : server_.TakeQueue(d.user_id, d.device_id)) {
      auto r = d.engine.HandleToDevice(m.sender_user_id, m.sender_device_id, m.body);
      if (!r.ok()) ++failed;
    }
    return failed;
  }
  // Sends as the app does: `members` (plus the sender) are the conversation's members on the
  // fake server too, which is where receivers check that a sender key's sender belongs.
  std::string Send(Device& from, const std::string& conv, const std::vector<std::string>& members,
                   const std::string& text) {
    std::vector<std::string>& listed = server_.conversations[conv];
    listed = members;
    if (std::find(listed.begin(), listed.end(), from.user_id) == listed.end()) {
      listed.push_back(from.user_id);
    }
    auto body = from.engine.EncryptMessage(conv, members, text);
    EXPECT_TRUE(body.ok()) << (body.ok() ? "" : body.error().message);
    return body.ok() ? *body : "";
  }
  Result<std::string> Read(Device& to, Device& from, const std::string& conv,
                           const std::string& body) {
    return to.engine.DecryptMessage(conv, from.user_id, from.device_id, body);
  }
  static std::string Flip(const std::string& body, size_t at) {
    std::string raw = *crypto::Base64Decode(body);
    raw[at % raw.size()] ^= 0x01;
    return crypto::Base64Encode(raw);
  }

  FakeKeyServer server_;
  int64_t clock_ = 1'700'000'000;
  std::vector<std::unique_ptr<Device>> devices_;
};

}  // namespace parley::sdk::e2ee::engine_test
