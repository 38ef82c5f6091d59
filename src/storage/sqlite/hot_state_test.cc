// The SQLite writer's in-memory state (hot_state.h) within one batch: sends and marks beside
// jobs that change the rows it mirrors, and a send that fails after writing.
#include "storage/sqlite/hot_state.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>

#include "common/ids.h"
#include "common/time.h"
#include "storage/conformance/conformance.h"
#include "storage/sqlite/sqlite_store.h"

namespace parley::storage::sqlite {
namespace {

// Holds the writer before a batch, so that the jobs queued meanwhile run as the next one batch.
class Gate {
 public:
  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    entered_ = false;
  }
  void Open() {
    {
      std::lock_guard lock(mu_);
      closed_ = false;
    }
    cv_.notify_all();
  }
  void WaitEntered() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return entered_; });
  }
  void Pass() {  // on the writer thread
    std::unique_lock lock(mu_);
    if (!closed_) return;
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return !closed_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool closed_ = false;
  bool entered_ = false;
};

template <typename T>
std::future<Result<T>> Later(std::function<void(Done<T>)> start) {
  auto p = std::make_shared<std::promise<Result<T>>>();
  auto f = p->get_future();
  start([p](Result<T> r) { p->set_value(std::move(r)); });
  return f;
}

class HotStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("parley-hot-" + NewUuidV4());
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "parley.db").string();
    Reopen();
  }
  void TearDown() override {
    store_->Close();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    if (store_) store_->Close();
    SqliteOptions o{path_};
    o.faults.before_batch = [g = gate_] { g->Pass(); };
    store_ = std::make_unique<SqliteStore>(o);
    ASSERT_TRUE(store_->Open().ok());
  }
  // Closes the gate and parks the writer on it (behind a write of no consequence).
  void HoldWriter() {
    gate_->Close();
    parked_ = Later<Unit>([&](auto d) { store_->TouchDevice("nobody", NowMs(), d); });
    gate_->WaitEntered();
  }
  void Release() {
    gate_->Open();
    parked_.get();
  }

  std::string AddUser(const std::string& name) {
    return conformance::AddTestUser(*store_, name).user_id;
  }
  std::future<Result<AppendResult>> Send(const std::string& conv, const std::string& user,
                                         std::string client_msg_id = NewUuidV4()) {
    AppendRequest r;
    r.conversation_id = conv;
    r.sender_id = user;
    r.sender_device_id = "dev-" + user;
    r.client_msg_id = std::move(client_msg_id);
    r.content_type = "text";
    r.encryption = "none";
    r.body = "hi";
    return Later<AppendResult>([&](auto d) { store_->Append(r, d); });
  }
  std::string NewGroup(const std::string& owner, const std::vector<std::string>& others) {
    storage::NewGroup g;
    g.group_id = NewUuidV4();
    g.conversation_id = NewUuidV4();
    g.name = "Team";
    g.creator_id = owner;
    g.members.push_back({owner, "owner", 0});
    for (const auto& u : others) g.members.push_back({u, "member", 0});
    g.system_body = "created";
    EXPECT_TRUE(Later<GroupChange>([&](auto d) { store_->CreateGroup(g, d); }).get().ok());
    group_id_ = g.group_id;
    return g.conversation_id;
  }

  std::filesystem::path dir_;
  std::string path_;
  std::shared_ptr<Gate> gate_ = std::make_shared<Gate>();
  std::unique_ptr<SqliteStore> store_;
  std::future<Result<Unit>> parked_;
  std::string group_id_;
};

// Sends, a member added and receipt marks in ONE batch: the add (a job that reads and writes
// the rows the state mirrors) sees the sends before it, and the sends after it see the add.
TEST_F(HotStateTest, JobsInOneBatchSeeEachOthersWrites) {
  std::string owner = AddUser("owner"), a = AddUser("a"), b = AddUser("b");
  std::string conv = NewGroup(owner, {a});
  ASSERT_EQ(store_->GetConversation(conv)->last_seq, 1);  // the creation's system message

  HoldWriter();
  auto s1 = Send(conv, owner), s2 = Send(conv, owner), s3 = Send(conv, owner);
  auto add = Later<GroupChange>([&](auto d) {
    store_->EditGroup(group_id_, [&](const Group&) -> Result<GroupEdit> {
      GroupEdit e;
      e.actor_id = owner;
      e.add.push_back({b, "member", 0});
      e.system_bodies.push_back("b joined");
      return e;
    }, d);
  });
  auto s4 = Send(conv, b), s5 = Send(conv, a);
  auto mark = Later<ReceiptChange>([&](auto d) {
    store_->MarkReceipt(a, "dev-" + a, conv, 100, true, NowMs(), d);
  });
  Release();

  std::vector<int64_t> seqs;
  for (auto* f : {&s1, &s2, &s3}) {
    auto r = f->get();
    ASSERT_TRUE(r.ok()) << r.error().message;
    seqs.push_back(r->message.seq);
    EXPECT_EQ(r->member_ids.size(), 2u);
  }
  EXPECT_EQ(seqs, (std::vector<int64_t>{2, 3, 4}));
  auto added = add.get();
  ASSERT_TRUE(added.ok()) << added.error().message;
  ASSERT_EQ(added->system_messages.size(), 1u);
  EXPECT_EQ(added->system_messages[0].seq, 5);
  auto r4 = s4.get(), r5 = s5.get();
  ASSERT_TRUE(r4.ok()) << r4.error().message;  // b is a member now, to the state as well
  ASSERT_TRUE(r5.ok()) << r5.error().message;
  EXPECT_EQ(r4->message.seq, 6);
  EXPECT_EQ(r5->message.seq, 7);
  EXPECT_EQ(r5->member_ids.size(), 3u);
  auto m = mark.get();
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->read_seq, 7);  // a's own message was the last one
  auto joined = store_->GetMembership(conv, b);
  ASSERT_TRUE(joined.ok());
  EXPECT_EQ(joined->joined_seq, 4);  // b sees nothing sent before the add
  // The conversation's row was written before the commit, and is durable.
  Reopen();
  EXPECT_EQ(store_->GetConversation(conv)->last_seq, 7);
  auto next = Send(conv, a).get();
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->message.seq, 8);
  EXPECT_EQ(store_->GetMembership(conv, a)->read_seq, 8);
}

// A send that fails after its first write (here: its seq already taken by a row planted from
// outside) fails alone: the batch is run again job by job, its dedup row is not kept, and the
// other sends of the batch commit.
TEST_F(HotStateTest, ASendFailingAfterWritingFailsAloneAndLeavesNothing) {
  std::string owner = AddUser("owner"), a = AddUser("a");
  std::string bad = NewGroup(owner, {a});
  std::string good = NewGroup(owner, {a});
  ASSERT_TRUE(Send(bad, owner).get().ok());  // the state now holds bad's last_seq (2)
  {
    auto c = SqliteConn::Open(path_, SqliteConn::Mode::kReadWrite, "full");
    ASSERT_TRUE(c.ok());
    Stmt s = (*c)->Prepare(
        "INSERT INTO messages(conversation_id, seq, message_id, sender_id, sender_device_id, "
        "created_at, content_type, encryption, body) VALUES (?, 3, 'planted', ?, 'x', 0, 'text', "
        "'none', 'planted')");
    ASSERT_TRUE(s.Bind(1, bad).Bind(2, owner).Run().ok());
  }
  HoldWriter();
  auto g1 = Send(good, owner);
  auto b1 = Send(bad, owner, "the-failing-send");
  auto g2 = Send(good, a);
  Release();

  auto failed = b1.get();
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, ErrorCode::kConflict);
  auto r1 = g1.get(), r2 = g2.get();
  ASSERT_TRUE(r1.ok()) << r1.error().message;
  ASSERT_TRUE(r2.ok()) << r2.error().message;
  EXPECT_EQ(r1->message.seq, 2);
  EXPECT_EQ(r2->message.seq, 3);
  EXPECT_EQ(store_->GetConversation(bad)->last_seq, 2);
  auto c = SqliteConn::Open(path_, SqliteConn::Mode::kReadOnly, "full");
  ASSERT_TRUE(c.ok());
  Stmt s = (*c)->Prepare("SELECT COUNT(*) FROM send_dedup WHERE client_msg_id = ?");
  s.Bind(1, "the-failing-send");
  ASSERT_TRUE(*s.Step());
  EXPECT_EQ(s.Int(0), 0);  // written, then rolled back with the batch
}

}  // namespace
}  // namespace parley::storage::sqlite
