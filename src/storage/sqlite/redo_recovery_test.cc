// The SQLite writer's redo log (writer.h): sends and receipt marks acknowledged from the log
// survive a process that dies before committing them, and a failed log append or commit loses
// nothing acknowledged before it and leaves no seq gap.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "common/ids.h"
#include "common/time.h"
#include "storage/conformance/conformance.h"
#include "storage/sqlite/sqlite_store.h"

namespace parley::storage::sqlite {
namespace {

using conformance::Wait;
using namespace std::chrono_literals;

constexpr const char* kAlice = "00000000-0000-4000-8000-00000000000a";
constexpr const char* kBob = "00000000-0000-4000-8000-00000000000b";
constexpr const char* kConv = "direct-ab";

std::string TempDb() {
  auto dir = std::filesystem::temp_directory_path() / ("parley-recovery-" + NewUuidV4());
  std::filesystem::create_directories(dir);
  return (dir / "parley.db").string();
}

AppendRequest Send(const std::string& client_msg_id, const std::string& body) {
  AppendRequest r;
  r.conversation_id = kConv;
  r.direct_pair = {kAlice, kBob};
  r.sender_id = kAlice;
  r.sender_device_id = "alice-phone";
  r.client_msg_id = client_msg_id;
  r.content_type = "text";
  r.encryption = "e2ee-v1";
  r.body = body;
  return r;
}

Result<AppendResult> Append(SqliteStore& s, AppendRequest r) {
  return Wait<AppendResult>([&](auto done) { s.Append(std::move(r), std::move(done)); });
}

std::vector<std::string> Bodies(SqliteStore& s) {
  auto page = s.History(kConv, 1, INT64_MAX, 0, INT64_MAX, true, 1000);
  EXPECT_TRUE(page.ok());
  std::vector<std::string> out;
  int64_t seq = 0;
  for (const auto& m : page->first) {
    EXPECT_EQ(m.seq, ++seq) << "seq gap";
    out.push_back(m.body);
  }
  return out;
}

SqliteOptions Rare(const std::string& path, WriteFaults faults = {}) {
  SqliteOptions o{path};
  o.commit_every = 60s;  // nothing commits on its own during a test
  o.faults = faults;
  return o;
}

TEST(RedoRecovery, AcknowledgedWritesSurviveAProcessThatDiesBeforeCommitting) {
  const std::string path = TempDb();
  {
    // Acknowledge 20 sends and a receipt mark from the log, then stop as a killed process would:
    // the open transaction is lost, the log stays.
    SqliteStore s(Rare(path));
    ASSERT_TRUE(s.Open().ok());
    for (int i = 1; i <= 20; ++i) {
      ASSERT_TRUE(Append(s, Send("c" + std::to_string(i), "m" + std::to_string(i))).ok());
    }
    auto mark = Wait<ReceiptChange>([&](auto done) {
      s.MarkReceipt(kBob, "bob-phone", kConv, 12, true, NowMs(), std::move(done));
    });
    ASSERT_TRUE(mark.ok());
    EXPECT_TRUE(mark->read_advanced);
    const uint64_t commits = s.commits();
    EXPECT_GE(s.log_appends(), 21u);
    s.AbandonForTest();
    EXPECT_EQ(s.commits(), commits);  // nothing of it was committed
  }
  {
    // What the database file holds without the log: not the sends.
    auto raw = SqliteConn::Open(path, SqliteConn::Mode::kReadOnly, "full");
    ASSERT_TRUE(raw.ok());
    Stmt q = (*raw)->Prepare("SELECT COUNT(*) FROM messages");
    ASSERT_TRUE(q.Step().ok());
    EXPECT_EQ(q.Int(0), 0);
  }
  SqliteStore s(Rare(path));
  ASSERT_TRUE(s.Open().ok());
  std::vector<std::string> want;
  for (int i = 1; i <= 20; ++i) want.push_back("m" + std::to_string(i));
  EXPECT_EQ(Bodies(s), want);
  auto bob = s.GetMembership(kConv, kBob);
  ASSERT_TRUE(bob.ok());
  EXPECT_EQ(bob->read_seq, 12);
  // The replayed state is the one the acks described: a retry is a duplicate of its first
  // message, a new send takes the next seq.
  auto again = Append(s, Send("c7", "m7 again"));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->message.seq, 7);
  EXPECT_EQ(again->message.body, "m7");
  auto next = Append(s, Send("c21", "m21"));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->message.seq, 21);
  s.Close();
  // Opened once more, nothing is replayed twice.
  SqliteStore t(Rare(path));
  ASSERT_TRUE(t.Open().ok());
  want.push_back("m21");
  EXPECT_EQ(Bodies(t), want);
}

TEST(RedoRecovery, ReadersSeeEveryAcknowledgedWriteBeforeItIsCommitted) {
  SqliteStore s(Rare(TempDb()));
  ASSERT_TRUE(s.Open().ok());
  ASSERT_TRUE(Append(s, Send("c1", "m1")).ok());
  const uint64_t commits = s.commits();
  EXPECT_EQ(Bodies(s), std::vector<std::string>{"m1"});
  EXPECT_EQ(s.commits(), commits + 1);  // the read asked for the commit
  EXPECT_EQ(Bodies(s), std::vector<std::string>{"m1"});
  EXPECT_EQ(s.commits(), commits + 1);  // nothing new: no commit
}

TEST(RedoRecovery, AnIdleWriterCommitsWhatItLoggedOnItsOwn) {
  const std::string path = TempDb();
  SqliteOptions o{path};
  o.commit_every = 20ms;
  SqliteStore s(o);
  ASSERT_TRUE(s.Open().ok());
  const uint64_t commits = s.commits();
  ASSERT_TRUE(Append(s, Send("c1", "m1")).ok());
  auto raw = SqliteConn::Open(path, SqliteConn::Mode::kReadOnly, "full");
  ASSERT_TRUE(raw.ok());
  int64_t rows = 0;
  for (int i = 0; i < 100 && rows == 0; ++i) {  // up to 2 s; expected within ~20 ms
    std::this_thread::sleep_for(20ms);
    Stmt q = (*raw)->Prepare("SELECT COUNT(*) FROM messages");
    ASSERT_TRUE(q.Step().ok());
    rows = q.Int(0);
  }
  EXPECT_EQ(rows, 1);  // committed without any read asking for it
  EXPECT_EQ(s.commits(), commits + 1);
}

TEST(RedoRecovery, AFailedLogAppendFailsItsBatchAloneAndLeavesNoGap) {
  // Durable steps 1-3 (three sends, logged) succeed, the 4th (the fourth send's log append)
  // fails as on a full disk.
  SqliteStore s(Rare(TempDb(), WriteFaults{3, 1}));
  ASSERT_TRUE(s.Open().ok());
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(Append(s, Send("c" + std::to_string(i), "m" + std::to_string(i))).ok());
  auto failed = Append(s, Send("c4", "m4"));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable);
  auto next = Append(s, Send("c5", "m5"));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->message.seq, 4);
  EXPECT_EQ(Bodies(s), (std::vector<std::string>{"m1", "m2", "m3", "m5"}));
  // The failed send stored nothing: its retry is new.
  auto retry = Append(s, Send("c4", "m4"));
  ASSERT_TRUE(retry.ok());
  EXPECT_FALSE(retry->duplicate);
  EXPECT_EQ(retry->message.seq, 5);
}

TEST(RedoRecovery, AFailedCommitKeepsTheLoggedWrites) {
  // Steps 1-2: two logged sends; step 3: a write the log cannot redo (a new user) must commit,
  // and that commit fails: the user is refused, the two sends stay.
  SqliteStore s(Rare(TempDb(), WriteFaults{2, 1}));
  ASSERT_TRUE(s.Open().ok());
  ASSERT_TRUE(Append(s, Send("c1", "m1")).ok());
  ASSERT_TRUE(Append(s, Send("c2", "m2")).ok());
  User u;
  u.user_id = NewUuidV4();
  u.username = "carol";
  u.display_name = "carol";
  u.password_hash = "$argon2id$x";
  u.created_at = NowMs();
  auto created = Wait<Unit>([&](auto done) { s.CreateUser(u, std::move(done)); });
  ASSERT_FALSE(created.ok());
  EXPECT_FALSE(s.GetUserByUsername("carol").ok());
  auto next = Append(s, Send("c3", "m3"));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->message.seq, 3);
  EXPECT_EQ(Bodies(s), (std::vector<std::string>{"m1", "m2", "m3"}));
  ASSERT_TRUE(Wait<Unit>([&](auto done) { s.CreateUser(u, std::move(done)); }).ok());
  EXPECT_TRUE(s.GetUserByUsername("carol").ok());
}

}  // namespace
}  // namespace parley::storage::sqlite
