// Helpers for the Client's tests against a real parleyd (test code only).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sdk/api/api_test_util.h"
#include "sdk/client/client.h"

namespace parley::sdk::testing {

inline constexpr char kPassword[] = "correct horse battery";

// Opens a Client on a fresh profile directory under the server's temp root.
inline std::unique_ptr<Client> OpenClient(const TestServer& server, const std::string& profile) {
  ClientOptions o;
  o.profile_dir = server.root() + "/profiles/" + profile;
  o.server_url = server.url();
  o.engine.initial_one_time_prekeys = 10;  // quick bootstraps
  o.engine.min_one_time_prekeys = 3;
  o.live.initial_backoff = std::chrono::milliseconds(100);
  o.live.max_backoff = std::chrono::milliseconds(1000);
  auto c = Client::Open(o);
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
  return c.ok() ? std::move(*c) : nullptr;
}

struct Person {
  std::string username;
  std::unique_ptr<Client> client;
};

inline Person SignUp(const TestServer& server, const std::string& prefix) {
  Person p;
  p.username = UniqueName(prefix);
  p.client = OpenClient(server, p.username);
  auto u = p.client->Signup(p.username, kPassword);
  EXPECT_TRUE(u.ok()) << (u.ok() ? "" : u.error().message);
  return p;
}

// Another device of an existing user, on its own profile.
inline std::unique_ptr<Client> NewDevice(const TestServer& server, const std::string& username,
                                         const std::string& profile) {
  auto c = OpenClient(server, profile);
  auto a = c->Login(username, kPassword);
  EXPECT_TRUE(a.ok()) << (a.ok() ? "" : a.error().message);
  return c;
}

// Syncs and returns the plaintexts of the messages (non-system) now stored for `who`.
inline std::vector<std::string> SyncTexts(Client& c, const std::string& who) {
  auto s = c.Sync();
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  std::vector<std::string> out;
  auto h = c.History(who, 200);
  EXPECT_TRUE(h.ok()) << (h.ok() ? "" : h.error().message);
  if (!h.ok()) return out;
  for (const auto& m : *h)
    if (m.content_type != "system" && m.plaintext) out.push_back(*m.plaintext);
  return out;
}

inline int Count(const std::vector<std::string>& v, const std::string& s) {
  return static_cast<int>(std::count(v.begin(), v.end(), s));
}

// The key property: no file the server wrote holds any of `secrets`.
inline void ExpectNoPlaintextOnServer(const TestServer& server,
                                      const std::vector<std::string>& secrets) {
  int files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(server.data_dir())) {
    if (!entry.is_regular_file()) continue;
    ++files;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const auto& s : secrets)
      EXPECT_EQ(bytes.find(s), std::string::npos)
          << "plaintext \"" << s.substr(0, 40) << "\" found in " << entry.path();
  }
  EXPECT_GT(files, 0) << "no server files to check under " << server.data_dir();
}

// Collects a Client's events (from its live connection's thread).
class EventLog {
 public:
  void Attach(Client& c) {
    c.SetEventHandler([this](const ClientEvent& e) {
      std::lock_guard lock(mu_);
      events_.push_back(e);
      cv_.notify_all();
    });
  }
  // Waits until a message event carries `text`.
  bool WaitText(const std::string& text,
                std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      for (const auto& e : events_)
        if (e.kind == ClientEvent::Kind::kMessage && e.message.plaintext == text) return true;
      return false;
    });
  }
  bool WaitConnected(std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      for (const auto& e : events_)
        if (e.kind == ClientEvent::Kind::kConnection && e.connected) return true;
      return false;
    });
  }
  int CountText(const std::string& text) {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& e : events_)
      n += e.kind == ClientEvent::Kind::kMessage && e.message.plaintext == text;
    return n;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ClientEvent> events_;
};

}  // namespace parley::sdk::testing
