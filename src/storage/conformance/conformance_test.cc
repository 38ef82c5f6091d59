// The conformance cases. See conformance.h for how an adapter runs them.
#include "storage/conformance/conformance.h"

#include <thread>

#include "common/ids.h"
#include "common/time.h"

namespace parley::storage::conformance {
namespace {

User NewUser(const std::string& name) {
  User u;
  u.user_id = NewUuidV4();
  u.username = name;
  u.display_name = name;
  u.password_hash = "$argon2id$x";
  u.created_at = NowMs();
  return u;
}

Device NewDevice(const std::string& user_id) {
  return {NewUuidV4(), user_id, "phone", NowMs(), 0, false};
}

class Fixture {
 public:
  explicit Fixture(Stores& s) : s_(s) {}
  User AddUser(const std::string& name) {
    User u = NewUser(name);
    EXPECT_TRUE(Wait<Unit>([&](auto d) { s_.auth->CreateUser(u, d); }).ok());
    return u;
  }
  Device AddDevice(const User& u) {
    Device d = NewDevice(u.user_id);
    EXPECT_TRUE(Wait<Unit>([&](auto done) { s_.auth->CreateDevice(d, done); }).ok());
    return d;
  }
  Result<AppendResult> Send(const User& from, const Device& dev, const User& to,
                            const std::string& client_id, const std::string& body = "hi") {
    AppendRequest r;
    r.conversation_id = DirectConversationId(from.user_id, to.user_id);
    r.direct_pair = {from.user_id, to.user_id};
    r.sender_id = from.user_id;
    r.sender_device_id = dev.device_id;
    r.client_msg_id = client_id;
    r.content_type = "text";
    r.encryption = "none";
    r.body = body;
    return Wait<AppendResult>([&](auto d) { s_.messages->Append(r, d); });
  }

 private:
  Stores& s_;
};

TEST_P(StoreConformance, UsernamesAreUnique) {
  Fixture f(s_);
  f.AddUser("alice");
  auto dup = Wait<Unit>([&](auto d) { s_.auth->CreateUser(NewUser("alice"), d); });
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::kConflict);
  EXPECT_EQ(s_.auth->GetUserByUsername("nobody").error().code, ErrorCode::kNotFound);
}

// Reads see every committed change to a user at once, by id and by name (through a caching
// decorator too: it must not serve what a write replaced). GetUser's password_hash is not part
// of the contract (caches leave it out); GetUserByUsername's is.
TEST_P(StoreConformance, UserChangesAreReadBackAtOnce) {
  Fixture f(s_);
  User a = f.AddUser("carol");
  EXPECT_EQ(s_.auth->GetUser(NewUuidV4()).error().code, ErrorCode::kNotFound);
  for (int round = 0; round < 2; ++round) {  // the second round reads what the first cached
    auto byid = s_.auth->GetUser(a.user_id);
    ASSERT_TRUE(byid.ok()) << byid.error().message;
    EXPECT_EQ(byid->username, "carol");
    EXPECT_EQ(byid->display_name, "carol");
    EXPECT_EQ(byid->created_at, a.created_at);
    EXPECT_FALSE(byid->is_admin);
  }
  auto byname = s_.auth->GetUserByUsername("carol");
  ASSERT_TRUE(byname.ok());
  EXPECT_EQ(byname->user_id, a.user_id);
  EXPECT_EQ(byname->password_hash, a.password_hash);

  ASSERT_TRUE(Wait<Unit>([&](auto d) { s_.auth->SetPresence(a.user_id, "busy", "in a meeting", 1234, d); }).ok());
  auto after = s_.auth->GetUser(a.user_id);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status, "busy");
  EXPECT_EQ(after->status_text, "in a meeting");
  EXPECT_EQ(after->last_seen_at, 1234);
  ASSERT_TRUE(Wait<Unit>([&](auto d) { s_.auth->SetPresence(a.user_id, "away", "", 0, d); }).ok());
  after = s_.auth->GetUser(a.user_id);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status, "away");
  EXPECT_EQ(after->last_seen_at, 1234) << "0 leaves last_seen_at unchanged";

  ASSERT_TRUE(Wait<Unit>([&](auto d) { s_.auth->SetAdmin(a.user_id, true, d); }).ok());
  EXPECT_TRUE(s_.auth->GetUser(a.user_id)->is_admin);
  EXPECT_TRUE(s_.auth->GetUserByUsername("carol")->is_admin);
  ASSERT_TRUE(Wait<Unit>([&](auto d) { s_.auth->SetAdmin(a.user_id, false, d); }).ok());
  EXPECT_FALSE(s_.auth->GetUser(a.user_id)->is_admin);
  auto missing = Wait<Unit>([&](auto d) { s_.auth->SetAdmin(NewUuidV4(), true, d); });
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_P(StoreConformance, SeqIsGaplessAndSendsAreIdempotent) {
  Fixture f(s_);
  User a = f.AddUser("alice"), b = f.AddUser("bob");
  Device da = f.AddDevice(a);
  for (int i = 1; i <= 5; ++i) {
    auto r = f.Send(a, da, b, "m" + std::to_string(i));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->message.seq, i);
    EXPECT_FALSE(r->duplicate);
    EXPECT_EQ(r->member_ids.size(), 2u);
  }
  auto again = f.Send(a, da, b, "m3", "different body");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->message.seq, 3);
  EXPECT_EQ(again->message.body, "hi");
  auto conv = s_.messages->GetConversation(DirectConversationId(a.user_id, b.user_id));
  ASSERT_TRUE(conv.ok());
  EXPECT_EQ(conv->last_seq, 5);
}

TEST_P(StoreConformance, ConcurrentSendsGetDistinctGaplessSeqs) {
  Fixture f(s_);
  User a = f.AddUser("alice"), b = f.AddUser("bob");
  Device da = f.AddDevice(a);
  std::vector<std::thread> threads;
  std::vector<int64_t> seqs(200);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < 200; i += 4) seqs[i] = f.Send(a, da, b, "c" + std::to_string(i))->message.seq;
    });
  }
  for (auto& t : threads) t.join();
  std::sort(seqs.begin(), seqs.end());
  for (int i = 0; i < 200; ++i) ASSERT_EQ(seqs[i], i + 1);
}

TEST_P(StoreConformance, NonMembersCannotSendAndUnknownConversationsAreNotFound) {
  Fixture f(s_);
  User a = f.AddUser("alice"), b = f.AddUser("bob"), c = f.AddUser("carol");
  Device da = f.AddDevice(a), dc = f.AddDevice(c);
  ASSERT_TRUE(f.Send(a, da, b, "x").ok());
  AppendRequest r;
  r.conversation_id = DirectConversationId(a.user_id, b.user_id);
  r.sender_id = c.user_id;
  r.sender_device_id = dc.device_id;
  r.client_msg_id = "y";
  r.content_type = "text";
  r.encryption = "none";
  auto res = Wait<AppendResult>([&](auto d) { s_.messages->Append(r, d); });
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, ErrorCode::kForbidden);
  r.conversation_id = NewUuidV4();
  res = Wait<AppendResult>([&](auto d) { s_.messages->Append(r, d); });
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, ErrorCode::kNotFound);
}

TEST_P(StoreConformance, HistoryPagesBothWays) {
  Fixture f(s_);
  User a = f.AddUser("alice"), b = f.AddUser("bob");
  Device da = f.AddDevice(a);
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(f.Send(a, da, b, std::to_string(i)).ok());
  std::string conv = DirectConversationId(a.user_id, b.user_id);
  auto newest = s_.messages->History(conv, 1, INT64_MAX, 0, INT64_MAX, false, 3);
  ASSERT_TRUE(newest.ok());
  ASSERT_EQ(newest->first.size(), 3u);
  EXPECT_EQ(newest->first[0].seq, 7);
  EXPECT_EQ(newest->first[2].seq, 5);
  EXPECT_TRUE(newest->second);
  auto older = s_.messages->History(conv, 1, INT64_MAX, 0, 2, false, 3);
  ASSERT_EQ(older->first.size(), 1u);
  EXPECT_FALSE(older->second);
  auto oldest = s_.messages->History(conv, 1, INT64_MAX, 4, INT64_MAX, true, 10);
  ASSERT_EQ(oldest->first.size(), 3u);
  EXPECT_EQ(oldest->first[0].seq, 5);
  EXPECT_FALSE(oldest->second);
  auto clipped = s_.messages->History(conv, 3, 4, 0, INT64_MAX, true, 10);  // membership range
  ASSERT_EQ(clipped->first.size(), 2u);
}

TEST_P(StoreConformance, PendingFollowsTheDeviceCursorAndSkipsOwnMessages) {
  Fixture f(s_);
  User a = f.AddUser("alice"), b = f.AddUser("bob");
  Device da = f.AddDevice(a), db = f.AddDevice(b);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(f.Send(a, da, b, std::to_string(i)).ok());
  auto pb = s_.messages->Pending(b.user_id, db.device_id, 10, {}, 0);
  ASSERT_TRUE(pb.ok());
  EXPECT_EQ(pb->messages.size(), 3u);
  auto pa = s_.messages->Pending(a.user_id, da.device_id, 10, {}, 0);
  EXPECT_TRUE(pa->messages.empty());
  std::string conv = DirectConversationId(a.user_id, b.user_id);
  auto paged = s_.messages->Pending(b.user_id, db.device_id, 2, {}, 0);
  EXPECT_EQ(paged->messages.size(), 2u);
  EXPECT_TRUE(paged->has_more);
  auto floored = s_.messages->Pending(b.user_id, db.device_id, 10, {{conv, 2}}, 0);
  ASSERT_EQ(floored->messages.size(), 1u);
  EXPECT_EQ(floored->messages[0].seq, 3);
  auto ch = Wait<ReceiptChange>([&](auto d) {
    s_.messages->MarkReceipt(b.user_id, db.device_id, conv, 2, false, NowMs(), d);
  });
  ASSERT_TRUE(ch.ok());
  EXPECT_TRUE(ch->delivered_advanced);
  EXPECT_FALSE(ch->read_advanced);
  EXPECT_EQ(s_.messages->Pending(b.user_id, db.device_id, 10, {}, 0)->messages.size(), 1u);
  EXPECT_EQ(*s_.messages->DeviceCursor(db.device_id, conv), 2);
  EXPECT_EQ(*s_.messages->DeviceCursor(da.device_id, conv), 3) << "caught up with its own sends";
  EXPECT_EQ(*s_.messages->DeviceCursor(db.device_id, "no-such-conversation"), 0);
  // A device added later starts caught up.
  Device db2 = f.AddDevice(b);
  EXPECT_TRUE(s_.messages->Pending(b.user_id, db2.device_id, 10, {}, 0)->messages.empty());
  EXPECT_EQ(*s_.messages->DeviceCursor(db2.device_id, conv), 3);
}

TEST_P(StoreConformance, ReplyingBeforeFetchingKeepsWhatTheDeviceHasNotHad) {
  Fixture f(s_);
  User a = f.AddUser("alice"), b = f.AddUser("bob");
  Device da = f.AddDevice(a), db = f.AddDevice(b);  // b's device predates the conversation
  ASSERT_TRUE(f.Send(a, da, b, "1").ok());
  ASSERT_TRUE(f.Send(a, da, b, "2").ok());
  ASSERT_TRUE(f.Send(b, db, a, "3").ok());
  auto pb = s_.messages->Pending(b.user_id, db.device_id, 10, {}, 0);
  ASSERT_EQ(pb->messages.size(), 2u);
  EXPECT_EQ(pb->messages[1].seq, 2);
  ASSERT_TRUE(f.Send(a, da, b, "4").ok());  // a's device has not had 3 either
  auto pa = s_.messages->Pending(a.user_id, da.device_id, 10, {}, 0);
  ASSERT_EQ(pa->messages.size(), 1u);
  EXPECT_EQ(pa->messages[0].seq, 3);
}

TEST_P(StoreConformance, ReceiptsAreMonotonicAndReadImpliesDelivered) {
  Fixture f(s_);
  User a = f.AddUser("alice"), b = f.AddUser("bob");
  Device da = f.AddDevice(a), db = f.AddDevice(b);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(f.Send(a, da, b, std::to_string(i)).ok());
  std::string conv = DirectConversationId(a.user_id, b.user_id);
  auto mark = [&](int64_t seq, bool read) {
    return Wait<ReceiptChange>([&](auto d) {
      s_.messages->MarkReceipt(b.user_id, db.device_id, conv, seq, read, NowMs(), d);
    });
  };
  auto r3 = mark(3, true);
  ASSERT_TRUE(r3.ok());
  EXPECT_TRUE(r3->read_advanced);
  EXPECT_TRUE(r3->delivered_advanced);
  EXPECT_EQ(r3->delivered_seq, 3);
  auto r1 = mark(1, true);
  EXPECT_FALSE(r1->read_advanced);
  EXPECT_EQ(r1->read_seq, 3);
  auto huge = mark(1000, false);  // clamped to what exists
  EXPECT_EQ(huge->delivered_seq, 4);
  auto m3 = s_.messages->History(conv, 1, INT64_MAX, 2, 4, true, 1);
  auto st = s_.messages->GetMessageStatus(m3->first[0].message_id);
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(st->receipts.size(), 1u);
  EXPECT_GT(st->receipts[0].delivered_at, 0);
  EXPECT_GT(st->receipts[0].read_at, 0);
  auto m4 = s_.messages->History(conv, 1, INT64_MAX, 3, INT64_MAX, true, 1);
  auto st4 = s_.messages->GetMessageStatus(m4->first[0].message_id);
  EXPECT_GT(st4->receipts[0].delivered_at, 0);
  EXPECT_EQ(st4->receipts[0].read_at, 0);
  auto stranger = f.AddUser("carol");
  auto denied = Wait<ReceiptChange>([&](auto d) {
    s_.messages->MarkReceipt(stranger.user_id, db.device_id, conv, 1, false, NowMs(), d);
  });
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code, ErrorCode::kForbidden);
}

TEST_P(StoreConformance, RefreshTokenReuseRevokesTheFamily) {
  Fixture f(s_);
  User a = f.AddUser("alice");
  Device da = f.AddDevice(a);
  int64_t now = NowMs();
  ASSERT_TRUE(Wait<Unit>([&](auto d) {
    s_.auth->InsertRefreshToken({"h1", a.user_id, da.device_id, now, now + 60000}, d);
  }).ok());
  auto rotate = [&](const std::string& old, const std::string& next) {
    return Wait<RotateOutcome>([&](auto d) {
      s_.auth->RotateRefreshToken(old, {next, "", "", now, now + 60000}, now, d);
    });
  };
  using Kind = RotateOutcome::Kind;
  EXPECT_EQ(rotate("h1", "h2")->kind, Kind::kRotated);
  EXPECT_EQ(rotate("h1", "h3")->kind, Kind::kReused);
  EXPECT_EQ(rotate("h2", "h4")->kind, Kind::kRevoked);  // the family went with the reuse
  EXPECT_EQ(rotate("nope", "h5")->kind, Kind::kUnknown);
}

TEST_P(StoreConformance, OneTimePrekeysAreClaimedOnce) {
  Fixture f(s_);
  User a = f.AddUser("alice");
  Device da = f.AddDevice(a);
  DeviceKeys k{da.device_id, a.user_id, "ik", "sk", {1, "spk", "sig"}, {{10, "otk10"}, {11, "otk11"}}};
  ASSERT_TRUE(Wait<Unit>([&](auto d) { s_.keys->PutKeys(k, 100, d); }).ok());
  EXPECT_EQ(*s_.keys->CountOneTimePrekeys(da.device_id), 2);
  auto c1 = Wait<std::vector<DeviceKeys>>([&](auto d) { s_.keys->ClaimKeys(a.user_id, {}, d); });
  auto c2 = Wait<std::vector<DeviceKeys>>([&](auto d) { s_.keys->ClaimKeys(a.user_id, {}, d); });
  auto c3 = Wait<std::vector<DeviceKeys>>([&](auto d) { s_.keys->ClaimKeys(a.user_id, {}, d); });
  ASSERT_EQ(c1->size(), 1u);
  ASSERT_EQ((*c1)[0].one_time_prekeys.size(), 1u);
  ASSERT_EQ((*c2)[0].one_time_prekeys.size(), 1u);
  EXPECT_NE((*c1)[0].one_time_prekeys[0].key_id, (*c2)[0].one_time_prekeys[0].key_id);
  EXPECT_TRUE((*c3)[0].one_time_prekeys.empty());
  EXPECT_EQ((*c3)[0].signed_prekey.public_key, "spk");
  auto too_many = Wait<Unit>([&](auto d) { s_.keys->PutKeys(k, 1, d); });
  EXPECT_EQ(too_many.error().code, ErrorCode::kConflict);
}

TEST_P(StoreConformance, KeysCanBeListedWithoutClaimingAndClaimedPerDevice) {
  Fixture f(s_);
  User a = f.AddUser("alice");
  Device d1 = f.AddDevice(a), d2 = f.AddDevice(a);
  for (const Device* d : {&d1, &d2}) {
    DeviceKeys k{d->device_id, a.user_id, "ik", "sk", {1, "spk", "sig"}, {{10, "otk10"}, {11, "otk11"}}};
    ASSERT_TRUE(Wait<Unit>([&](auto done) { s_.keys->PutKeys(k, 100, done); }).ok());
  }
  auto listed = Wait<std::vector<DeviceKeys>>(
      [&](auto d) { s_.keys->ClaimKeys(a.user_id, {.claim = false, .device_id = ""}, d); });
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_TRUE((*listed)[0].one_time_prekeys.empty());
  EXPECT_EQ(*s_.keys->CountOneTimePrekeys(d1.device_id), 2);  // nothing consumed
  auto one = Wait<std::vector<DeviceKeys>>(
      [&](auto d) { s_.keys->ClaimKeys(a.user_id, {.claim = true, .device_id = d2.device_id}, d); });
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].device_id, d2.device_id);
  ASSERT_EQ((*one)[0].one_time_prekeys.size(), 1u);
  EXPECT_EQ(*s_.keys->CountOneTimePrekeys(d1.device_id), 2);
  EXPECT_EQ(*s_.keys->CountOneTimePrekeys(d2.device_id), 1);
  auto other = Wait<std::vector<DeviceKeys>>(
      [&](auto d) { s_.keys->ClaimKeys(a.user_id, {.claim = true, .device_id = "nope"}, d); });
  EXPECT_TRUE(other->empty());
}

TEST_P(StoreConformance, ToDeviceQueuesUntilAcked) {
  Fixture f(s_);
  User a = f.AddUser("alice"), b = f.AddUser("bob");
  Device da = f.AddDevice(a), db = f.AddDevice(b);
  auto q = Wait<std::vector<ToDeviceMessage>>([&](auto d) {
    s_.messages->EnqueueToDevice({{0, db.device_id, b.user_id, a.user_id, da.device_id, "k1", 1},
                                  {0, db.device_id, b.user_id, a.user_id, da.device_id, "k2", 2}},
                                 {}, d);
  });
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), 2u);
  EXPECT_LT((*q)[0].id, (*q)[1].id);
  auto wrong = Wait<std::vector<ToDeviceMessage>>([&](auto d) {
    s_.messages->EnqueueToDevice({{0, db.device_id, a.user_id, a.user_id, da.device_id, "x", 1}},
                                 {}, d);
  });
  EXPECT_EQ(wrong.error().code, ErrorCode::kNotFound);  // device is not that user's
  EXPECT_EQ(s_.messages->Pending(b.user_id, db.device_id, 10, {}, 0)->to_device.size(), 2u);
  ASSERT_TRUE(Wait<Unit>([&](auto d) { s_.messages->AckToDevice(db.device_id, (*q)[0].id, d); }).ok());
  auto left = s_.messages->Pending(b.user_id, db.device_id, 10, {}, 0);
  ASSERT_EQ(left->to_device.size(), 1u);
  EXPECT_EQ(left->to_device[0].body, "k2");
}

TEST_P(StoreConformance, ToDeviceQueueIsCappedPerDevice) {
  Fixture f(s_);
  User a = f.AddUser("alice"), b = f.AddUser("bob");
  Device da = f.AddDevice(a), db = f.AddDevice(b), db2 = f.AddDevice(b);
  auto enqueue = [&](const Device& to, std::vector<std::string> bodies, ToDeviceCap cap) {
    std::vector<ToDeviceMessage> out;
    for (auto& body : bodies)
      out.push_back({0, to.device_id, b.user_id, a.user_id, da.device_id, std::move(body), 1});
    return Wait<std::vector<ToDeviceMessage>>(
        [&](auto d) { s_.messages->EnqueueToDevice(std::move(out), cap, d); });
  };
  const ToDeviceCap three{3, 0};
  ASSERT_TRUE(enqueue(db, {"1", "2"}, three).ok());
  // Two waiting, two more asked: refused whole, nothing of it queued.
  auto over = enqueue(db, {"3", "4"}, three);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, ErrorCode::kRateLimited);
  EXPECT_GE(over.error().retry_after_s, 1);
  EXPECT_EQ(s_.messages->Pending(b.user_id, db.device_id, 10, {}, 0)->to_device.size(), 2u);
  ASSERT_TRUE(enqueue(db, {"3"}, three).ok());
  ASSERT_TRUE(enqueue(db2, {"x"}, three).ok());  // per device
  // Bytes: 3 bytes waiting on db2 would become 1 + 4 = 5 > 4.
  const ToDeviceCap four_bytes{0, 4};
  EXPECT_EQ(enqueue(db2, {"yyyy"}, four_bytes).error().code, ErrorCode::kRateLimited);
  ASSERT_TRUE(enqueue(db2, {"yyy"}, four_bytes).ok());
  // Acknowledged messages no longer count.
  auto page = s_.messages->Pending(b.user_id, db.device_id, 10, {}, 0);
  ASSERT_EQ(page->to_device.size(), 3u);
  ASSERT_TRUE(Wait<Unit>([&](auto d) {
                s_.messages->AckToDevice(db.device_id, page->to_device[2].id, d);
              }).ok());
  EXPECT_TRUE(enqueue(db, {"4", "5", "6"}, three).ok());
}

TEST_P(StoreConformance, CommittedWritesSurviveReopen) {
  Fixture f(s_);
  User a = f.AddUser("alice"), b = f.AddUser("bob");
  Device da = f.AddDevice(a);
  auto r = f.Send(a, da, b, "durable", "still here");
  ASSERT_TRUE(r.ok());
  Stores again = s_.reopen();
  s_ = again;
  auto m = s_.messages->GetMessage(r->message.message_id);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->body, "still here");
  EXPECT_TRUE(s_.messages->SharesConversation(a.user_id, b.user_id).value());
  auto contacts = s_.messages->Contacts(a.user_id);
  ASSERT_EQ(contacts->size(), 1u);
  EXPECT_EQ((*contacts)[0], b.user_id);
}

}  // namespace
}  // namespace parley::storage::conformance
