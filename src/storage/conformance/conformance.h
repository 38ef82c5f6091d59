// The storage conformance suite: every adapter of AuthStore, KeyStore and MessageStore (and of
// GroupStore, if it keeps groups) must pass it. An adapter's test file provides a StoreFactory
// and instantiates the suite:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformance, ::testing::Values(&MakeSqliteStores));
//
// The factory opens a fresh, empty store each call; `reopen` opens the same data again (to check
// durability across restarts).
#pragma once

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <string>

#include "common/ids.h"
#include "common/time.h"
#include "storage/auth_store.h"
#include "storage/group_store.h"
#include "storage/key_store.h"
#include "storage/media_store.h"
#include "storage/message_store.h"

namespace parley::storage::conformance {

struct Stores {
  std::shared_ptr<void> owner;  // keeps the adapter alive
  AuthStore* auth = nullptr;
  KeyStore* keys = nullptr;
  MessageStore* messages = nullptr;
  std::function<Stores()> reopen;  // closes this one first
  GroupStore* groups = nullptr;  // null: the adapter keeps no groups; their cases skip
  MediaStore* media = nullptr;   // null: the adapter keeps no media metadata; its cases skip
};

using StoreFactory = Stores (*)();

// Waits for an asynchronous write; tests only.
template <typename T, typename Start>
Result<T> Wait(Start start) {
  std::promise<Result<T>> p;
  auto f = p.get_future();
  start([&p](Result<T> r) { p.set_value(std::move(r)); });
  return f.get();
}

// Stores a user named `name` plus a random suffix (a test may ask for the same name twice);
// tests only.
inline User AddTestUser(AuthStore& auth, const std::string& name) {
  User u;
  u.user_id = NewUuidV4();
  u.username = name + "_" + NewUuidV4().substr(0, 8);
  u.display_name = name;
  u.password_hash = "$argon2id$x";
  u.created_at = NowMs();
  EXPECT_TRUE(Wait<Unit>([&](auto d) { auth.CreateUser(u, d); }).ok());
  return u;
}

class StoreConformance : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override { s_ = GetParam()(); }
  Stores s_;
};

}  // namespace parley::storage::conformance
