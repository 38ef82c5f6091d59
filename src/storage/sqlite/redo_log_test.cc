// The SQLite writer's redo log (redo_log.h): records replayed byte for byte, a torn or corrupt
// end dropped; and through SqliteStore: acknowledged sends that only the log holds survive a
// crash, readers see every acknowledged send, a failed projection commit is recovered from the
// log.
#include "storage/sqlite/redo_log.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "common/ids.h"
#include "common/time.h"
#include "storage/sqlite/conn.h"
#include "storage/conformance/conformance.h"
#include "storage/sqlite/sqlite_store.h"

namespace parley::storage::sqlite {
namespace {

namespace fs = std::filesystem;

class RedoLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("parley-redo-" + NewUuidV4());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (store_) store_->Close();
    store_.reset();
    fs::remove_all(dir_);
  }
  std::unique_ptr<SqliteConn> OpenDb(const std::string& name) {
    auto c = SqliteConn::Open((dir_ / name).string(), SqliteConn::Mode::kReadWrite, "full");
    EXPECT_TRUE(c.ok());
    EXPECT_TRUE((*c)->Exec("CREATE TABLE IF NOT EXISTS t(k TEXT PRIMARY KEY, n INTEGER, b BLOB)")
                    .ok());
    EXPECT_TRUE(EnsureRedoState(**c).ok());
    return std::move(*c);
  }
  // One record: the statements `fn` runs while recording, rolled back from `c` itself.
  std::string Record(SqliteConn& c, uint64_t lsn, const std::function<void(SqliteConn&)>& fn) {
    RedoBuffer buf;
    EXPECT_TRUE(c.Exec("BEGIN").ok());
    c.SetRedo(&buf);
    fn(c);
    c.SetRedo(nullptr);
    EXPECT_TRUE(c.Exec("ROLLBACK").ok());
    return buf.Encode(lsn);
  }
  static void Put(SqliteConn& c, const std::string& k, int64_t n, std::string_view blob) {
    Stmt s = c.Prepare("INSERT INTO t(k, n, b) VALUES (?, ?, ?) "
                       "ON CONFLICT(k) DO UPDATE SET n = excluded.n");
    ASSERT_TRUE(s.Bind(1, k).Bind(2, n).BindBlob(3, blob).Run().ok());
  }
  static int64_t Count(SqliteConn& c) {
    Stmt s = c.Prepare("SELECT COUNT(*) FROM t");
    EXPECT_TRUE(*s.Step());
    return s.Int(0);
  }
  void WriteLog(const std::string& bytes) {
    std::ofstream(dir_ / "log", std::ios::binary | std::ios::app) << bytes;
  }

  std::string AddUser(const std::string& name) {
    return conformance::AddTestUser(*store_, name).user_id;
  }
  Result<AppendResult> Send(const std::string& from, const std::string& to, std::string body) {
    AppendRequest r;
    r.conversation_id = "direct:" + std::min(from, to) + ":" + std::max(from, to);
    r.direct_pair = {from, to};
    r.sender_id = from;
    r.sender_device_id = "dev-" + from;
    r.client_msg_id = NewUuidV7();
    r.content_type = "text";
    r.encryption = "none";
    r.body = std::move(body);
    std::promise<Result<AppendResult>> p;
    store_->Append(r, [&](Result<AppendResult> res) { p.set_value(std::move(res)); });
    return p.get_future().get();
  }
  // A store whose database transaction under the log commits only when it must.
  void OpenStore(const fs::path& dir, WriteFaults faults = {}) {
    SqliteOptions o{(dir / "parley.db").string()};
    o.projection_max_age = std::chrono::hours(1);
    o.projection_quiet_age = std::chrono::hours(1);
    o.projection_idle = std::chrono::hours(1);
    o.faults = std::move(faults);
    store_ = std::make_unique<SqliteStore>(o);
    ASSERT_TRUE(store_->Open().ok());
  }
  // What a crash leaves on disk: the files of `live` copied as they are now (the database's
  // transaction still open) to `crashed`, which the store then opens.
  void CrashAndReopen(const fs::path& live, const fs::path& crashed) {
    fs::create_directories(crashed);
    for (const char* f : {"parley.db", "parley.db-wal", "parley.db-redo"})
      fs::copy_file(live / f, crashed / f);
    store_->Close();
    store_.reset();
    OpenStore(crashed);
  }
  // Rows of `conv` committed in the database file (read beside the store, without its barrier).
  int64_t CommittedMessages(const fs::path& dir, const std::string& conv) {
    auto c = SqliteConn::Open((dir / "parley.db").string(), SqliteConn::Mode::kReadOnly, "full");
    EXPECT_TRUE(c.ok());
    Stmt s = (*c)->Prepare("SELECT COUNT(*) FROM messages WHERE conversation_id = ?");
    s.Bind(1, conv);
    EXPECT_TRUE(*s.Step());
    return s.Int(0);
  }

  fs::path dir_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(RedoLogTest, ReplayAppliesTheRecordsAfterTheAppliedLsnExactly) {
  auto src = OpenDb("src.db");
  const std::string nul_text("a\0b'c", 5);  // quotes and a NUL survive: values, not SQL text
  WriteLog(Record(*src, 1, [&](SqliteConn& c) {
    Put(c, "one", 1, std::string("\0\x01\xff", 3));
    Put(c, nul_text, -7, "");
  }));
  WriteLog(Record(*src, 2, [&](SqliteConn& c) {
    Put(c, "one", 11, "x");  // the upsert's update path
    Stmt d = c.Prepare("DELETE FROM t WHERE k = ?");
    ASSERT_TRUE(d.Bind(1, nul_text).Run().ok());
    Stmt s = c.Prepare("SELECT COUNT(*) FROM t");  // reads are not recorded
    ASSERT_TRUE(s.Step().ok());
  }));
  WriteLog(Record(*src, 3, [&](SqliteConn& c) { Put(c, "three", 3, "y"); }));
  EXPECT_EQ(Count(*src), 0);

  auto dst = OpenDb("dst.db");
  ASSERT_TRUE(SetAppliedLsn(*dst, 1).ok());  // record 1 is already in the database
  auto last = RedoLog::Replay((dir_ / "log").string(), *dst, 1);
  ASSERT_TRUE(last.ok()) << last.error().message;
  EXPECT_EQ(*last, 3u);
  EXPECT_EQ(*AppliedLsn(*dst), 3u);
  Stmt s = dst->Prepare("SELECT k, n FROM t ORDER BY k");
  ASSERT_TRUE(*s.Step());  // record 1 skipped: record 2's upsert inserts "one", nothing to delete
  EXPECT_EQ(s.Text(0), "one");
  EXPECT_EQ(s.Int(1), 11);
  ASSERT_TRUE(*s.Step());
  EXPECT_EQ(s.Text(0), "three");
  ASSERT_FALSE(*s.Step());

  auto all = OpenDb("all.db");
  ASSERT_TRUE(RedoLog::Replay((dir_ / "log").string(), *all, 0).ok());
  Stmt a = all->Prepare("SELECT k, n, b FROM t ORDER BY k");
  ASSERT_TRUE(*a.Step());
  EXPECT_EQ(a.Text(0), "one");
  EXPECT_EQ(a.Int(1), 11);
  EXPECT_EQ(a.Text(2), std::string("\0\x01\xff", 3));
  ASSERT_TRUE(*a.Step());
  EXPECT_EQ(a.Text(0), "three");
  EXPECT_FALSE(*a.Step());
}

TEST_F(RedoLogTest, ATornOrCorruptEndIsDropped) {
  auto src = OpenDb("src.db");
  const std::string r1 = Record(*src, 1, [&](SqliteConn& c) { Put(c, "a", 1, ""); });
  std::string r2 = Record(*src, 2, [&](SqliteConn& c) { Put(c, "b", 2, ""); });
  const std::string r4 = Record(*src, 4, [&](SqliteConn& c) { Put(c, "d", 4, ""); });
  // A record whose LSN does not follow ends the log.
  WriteLog(r1 + r4);
  auto dst = OpenDb("dst.db");
  ASSERT_EQ(*RedoLog::Replay((dir_ / "log").string(), *dst, 0), 1u);
  EXPECT_EQ(Count(*dst), 1);
  // A corrupt record (a flipped byte in its body) ends it, as does one cut short.
  fs::remove(dir_ / "log");
  r2[r2.size() - 3] ^= 0x40;
  WriteLog(r1 + r2 + r1.substr(0, r1.size() / 2));
  ASSERT_EQ(*RedoLog::Replay((dir_ / "log").string(), *dst, 1), 1u);
  EXPECT_EQ(Count(*dst), 1);
  fs::remove(dir_ / "log");
  WriteLog(r1 + r1.substr(0, r1.size() / 2));
  ASSERT_EQ(*RedoLog::Replay((dir_ / "log").string(), *dst, 0), 1u);
}

// The file is zero-filled ahead of its records and used again from its beginning: the records
// of the earlier round left behind the new ones are never applied, and the file never shrinks.
TEST_F(RedoLogTest, AFileUsedAgainEndsAtTheOlderRecordsBehindTheNewOnes) {
  auto src = OpenDb("src.db");
  auto log = RedoLog::Open((dir_ / "log").string(), true);
  ASSERT_TRUE(log.ok()) << log.error().message;
  // Records of one size, so that the new round ends exactly where an older record begins.
  const char* keys[] = {"a", "b", "c", "d", "e"};
  auto rec = [&](uint64_t lsn) {
    return Record(*src, lsn, [&](SqliteConn& c) { Put(c, keys[lsn - 1], lsn, ""); });
  };
  for (uint64_t lsn = 1; lsn <= 3; ++lsn) ASSERT_TRUE((*log)->Append(rec(lsn)).ok());
  const uint64_t round_one = (*log)->bytes();
  for (int i = 0; i < 200 && (*log)->capacity() <= round_one; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_GE((*log)->capacity(), 256u << 10) << "zeros are written ahead of the records";
  const auto size = fs::file_size(dir_ / "log");
  ASSERT_TRUE((*log)->Reset().ok());
  EXPECT_EQ((*log)->bytes(), 0u);
  ASSERT_TRUE((*log)->Append(rec(4)).ok());  // over record 1; records 2 and 3 follow it
  EXPECT_EQ(fs::file_size(dir_ / "log"), size);
  log->reset();

  auto dst = OpenDb("dst.db");
  ASSERT_TRUE(SetAppliedLsn(*dst, 3).ok());
  ASSERT_EQ(*RedoLog::Replay((dir_ / "log").string(), *dst, 3), 4u);
  Stmt s = dst->Prepare("SELECT k FROM t ORDER BY k");
  ASSERT_TRUE(*s.Step());
  EXPECT_EQ(s.Text(0), "d");
  EXPECT_FALSE(*s.Step()) << "records 2 and 3 of the earlier round are not applied";
  // From an older applied LSN the new record does not follow: nothing is applied.
  auto empty = OpenDb("empty.db");
  EXPECT_EQ(*RedoLog::Replay((dir_ / "log").string(), *empty, 0), 0u);
  EXPECT_EQ(Count(*empty), 0);
}

// Sends acknowledged while the database's transaction is still open are only in the log: a
// copy of the files taken then (what a crash leaves on disk) opens with every one of them.
TEST_F(RedoLogTest, AcknowledgedSendsOnlyInTheLogSurviveACrash) {
  const fs::path live = dir_ / "live", crashed = dir_ / "crashed";
  fs::create_directories(live);
  OpenStore(live);
  const std::string a = AddUser("a"), b = AddUser("b");
  std::string conv;
  for (int i = 0; i < 20; ++i) {
    auto r = Send(i % 2 ? a : b, i % 2 ? b : a, "m" + std::to_string(i));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->message.seq, i + 1);
    conv = r->message.conversation_id;
  }
  EXPECT_EQ(CommittedMessages(live, conv), 0);  // the database has not committed them yet
  CrashAndReopen(live, crashed);
  auto page = store_->History(conv, 0, INT64_MAX, 0, INT64_MAX, true, 100);
  ASSERT_TRUE(page.ok()) << page.error().message;
  ASSERT_EQ(page->first.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(page->first[i].body, "m" + std::to_string(i));
  EXPECT_EQ(store_->GetConversation(conv)->last_seq, 20);
  auto next = Send(a, b, "after");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->message.seq, 21);
}

// After a durable commit the log starts again at the file's beginning, over the records before
// it: what it holds then survives a crash, and none of the older records comes back.
TEST_F(RedoLogTest, SendsAfterTheLogStartedOverSurviveACrash) {
  const fs::path live = dir_ / "live", crashed = dir_ / "crashed";
  fs::create_directories(live);
  OpenStore(live);
  const std::string a = AddUser("a"), b = AddUser("b");
  std::string conv;
  for (int i = 0; i < 10; ++i) {
    auto r = Send(a, b, "before " + std::to_string(i));
    ASSERT_TRUE(r.ok()) << r.error().message;
    conv = r->message.conversation_id;
  }
  AddUser("c");  // not a send: commits the database durably and starts the log over
  EXPECT_EQ(CommittedMessages(live, conv), 10);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Send(b, a, "after " + std::to_string(i)).ok());
  EXPECT_EQ(CommittedMessages(live, conv), 10);  // the last three are only in the log
  CrashAndReopen(live, crashed);
  auto page = store_->History(conv, 0, INT64_MAX, 0, INT64_MAX, true, 100);
  ASSERT_TRUE(page.ok()) << page.error().message;
  ASSERT_EQ(page->first.size(), 13u);
  EXPECT_EQ(page->first[10].body, "after 0");
  EXPECT_EQ(page->first[12].body, "after 2");
  auto next = Send(a, b, "next");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->message.seq, 14);
}

// A read through the store shows every acknowledged send: it commits the transaction first.
TEST_F(RedoLogTest, AReaderSeesEveryAcknowledgedSend) {
  OpenStore(dir_);
  const std::string a = AddUser("a"), b = AddUser("b");
  auto r = Send(a, b, "hello");
  ASSERT_TRUE(r.ok());
  const std::string conv = r->message.conversation_id;
  EXPECT_EQ(CommittedMessages(dir_, conv), 0);
  auto m = store_->GetMessage(r->message.message_id);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->body, "hello");
  EXPECT_EQ(CommittedMessages(dir_, conv), 1);
  EXPECT_GE(store_->projection_commits(), 1u);
}

// A projection commit that fails (an I/O error) is rolled back and the log applied again: no
// acknowledged send is lost and the writer goes on.
TEST_F(RedoLogTest, AFailedProjectionCommitIsRecoveredFromTheLog) {
  WriteFaults faults;
  faults.fail_projection_commits = 1;
  OpenStore(dir_, faults);
  const std::string a = AddUser("a"), b = AddUser("b");
  std::string conv;
  for (int i = 0; i < 5; ++i) {
    auto r = Send(a, b, "m" + std::to_string(i));
    ASSERT_TRUE(r.ok());
    conv = r->message.conversation_id;
  }
  auto page = store_->History(conv, 0, INT64_MAX, 0, INT64_MAX, true, 100);  // commit fails
  ASSERT_TRUE(page.ok()) << page.error().message;
  EXPECT_EQ(page->first.size(), 5u);
  auto next = Send(b, a, "reply");
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next->message.seq, 6);
  EXPECT_EQ(store_->GetConversation(conv)->last_seq, 6);
}

// Another process on the same database (`parleyd admin` beside the server) cannot take the log:
// its writes commit the database durably, and the owner's log is left alone.
TEST_F(RedoLogTest, ASecondWriterOfTheDatabaseWritesWithoutTheLog) {
  SqliteOptions o{(dir_ / "parley.db").string()};
  store_ = std::make_unique<SqliteStore>(o);
  ASSERT_TRUE(store_->Open().ok());
  const std::string a = AddUser("a"), b = AddUser("b");
  ASSERT_TRUE(Send(a, b, "first").ok());  // the owner's log holds it until its projection commits
  auto head = [&] {  // the owner's record (the filler writes only zeros after it)
    std::ifstream in(dir_ / "parley.db-redo", std::ios::binary);
    std::string bytes(64, '\0');
    in.read(bytes.data(), 64);
    return bytes;
  };
  const std::string before = head();
  EXPECT_NE(before, std::string(64, '\0'));

  auto second = std::make_unique<SqliteStore>(o);
  ASSERT_TRUE(second->Open().ok());
  std::swap(store_, second);
  auto r = Send(b, a, "from the second");
  std::swap(store_, second);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->message.seq, 2);
  EXPECT_EQ(second->projection_commits(), 0u);
  EXPECT_EQ(head(), before);
  second->Close();
}

}  // namespace
}  // namespace parley::storage::sqlite
