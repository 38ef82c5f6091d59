// Conformance cases for the MessageStore reads that derived indexes use: Memberships and
// ScanConversations. See conformance.h for how an adapter runs them.
#include <chrono>
#include <set>
#include <thread>

#include "common/ids.h"
#include "common/time.h"
#include "storage/conformance/conformance.h"

namespace parley::storage::conformance {
namespace {

User AddUser(Stores& s, const std::string& name) {
  User u;
  u.user_id = NewUuidV4();
  u.username = name;
  u.display_name = name;
  u.password_hash = "$argon2id$x";
  u.created_at = NowMs();
  EXPECT_TRUE(Wait<Unit>([&](auto d) { s.auth->CreateUser(u, d); }).ok());
  return u;
}

Result<AppendResult> SendDirect(Stores& s, const User& from, const User& to,
                                const std::string& body) {
  AppendRequest r;
  r.conversation_id = DirectConversationId(from.user_id, to.user_id);
  r.direct_pair = {from.user_id, to.user_id};
  r.sender_id = from.user_id;
  r.sender_device_id = NewUuidV4();
  r.client_msg_id = NewUuidV4();
  r.content_type = "text";
  r.encryption = "none";
  r.body = body;
  return Wait<AppendResult>([&](auto d) { s.messages->Append(r, d); });
}

TEST_P(StoreConformance, MembershipsListEveryConversationMostRecentFirst) {
  User a = AddUser(s_, "ann"), b = AddUser(s_, "ben"), c = AddUser(s_, "cy");
  ASSERT_TRUE(SendDirect(s_, a, b, "1").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(3));
  ASSERT_TRUE(SendDirect(s_, c, a, "2").ok());
  auto m = s_.messages->Memberships(a.user_id);
  ASSERT_TRUE(m.ok()) << m.error().message;
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[0].conversation_id, DirectConversationId(a.user_id, c.user_id));
  EXPECT_EQ((*m)[1].conversation_id, DirectConversationId(a.user_id, b.user_id));
  EXPECT_EQ((*m)[0].user_id, a.user_id);
  EXPECT_EQ((*m)[0].joined_seq, 0);
  EXPECT_FALSE((*m)[0].left_seq.has_value());
  auto none = s_.messages->Memberships(NewUuidV4());
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_P(StoreConformance, ScanConversationsPagesInIdOrder) {
  User a = AddUser(s_, "ann");
  std::set<std::string> want;
  std::string busy;  // the one with two messages
  for (int i = 0; i < 5; ++i) {
    User p = AddUser(s_, "peer" + std::to_string(i));
    auto r = SendDirect(s_, a, p, "x");
    ASSERT_TRUE(r.ok());
    if (i == 0) {
      ASSERT_TRUE(SendDirect(s_, p, a, "y").ok());
      busy = r->message.conversation_id;
    }
    want.insert(r->message.conversation_id);
  }
  std::vector<Conversation> seen;
  std::string after;
  while (true) {
    auto page = s_.messages->ScanConversations(after, 2);
    ASSERT_TRUE(page.ok()) << page.error().message;
    ASSERT_LE(page->size(), 2u);
    if (page->empty()) break;
    for (auto& c : *page) {
      EXPECT_GT(c.conversation_id, after);
      after = c.conversation_id;
      seen.push_back(c);
    }
  }
  std::set<std::string> got;
  for (const auto& c : seen) {
    if (!want.count(c.conversation_id)) continue;
    got.insert(c.conversation_id);
    EXPECT_EQ(c.type, "direct");
    EXPECT_EQ(c.last_seq, c.conversation_id == busy ? 2 : 1);
  }
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace parley::storage::conformance
