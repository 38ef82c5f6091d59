// WalCheckpointer: the WAL is checkpointed beside the writer, and the writer's catch-up lets the
// WAL start over, so it stays near its threshold however long the writes go on; in background
// only mode the writer copies nothing while the thread keeps up.
#include "storage/sqlite/checkpointer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <thread>

#include "common/ids.h"
#include "storage/sqlite/conn.h"

namespace parley::storage::sqlite {
namespace {

class CheckpointerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("parley-ckpt-" + NewUuidV4());
    std::filesystem::create_directories(dir_);
    auto conn = SqliteConn::Open((dir_ / "t.db").string(), SqliteConn::Mode::kReadWrite, "full");
    ASSERT_TRUE(conn.ok());
    conn_ = std::move(*conn);
    ASSERT_TRUE(conn_->Exec("CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT)").ok());
  }
  void TearDown() override {
    conn_.reset();
    std::filesystem::remove_all(dir_);
  }
  // One transaction of `rows` rows of 3,500 bytes: a page each.
  void Commit(int rows) {
    ASSERT_TRUE(conn_->Exec("BEGIN IMMEDIATE").ok());
    for (int i = 0; i < rows; ++i) {
      Stmt s = conn_->Prepare("INSERT INTO t(v) VALUES (?)");
      ASSERT_TRUE(s.Bind(1, std::string(3500, 'x')).Run().ok());
    }
    ASSERT_TRUE(conn_->Exec("COMMIT").ok());
  }
  int64_t Rows() {
    Stmt s = conn_->Prepare("SELECT count(*) FROM t");
    auto row = s.Step();
    EXPECT_TRUE(row.ok() && *row);
    return s.Int(0);
  }

  std::filesystem::path dir_;
  std::unique_ptr<SqliteConn> conn_;
};

TEST_F(CheckpointerTest, CommitsNeverCheckpointThemselvesAndTheWalStartsOver) {
  WalCheckpointer ckpt(/*threshold_pages=*/64);
  ASSERT_TRUE(ckpt.Start(*conn_, "test-ckpt").ok());
  // Below the threshold nothing is checkpointed, by the commits or by the thread.
  Commit(20);
  EXPECT_GT(ckpt.wal_pages(), 20);
  EXPECT_LT(ckpt.wal_pages(), 64);
  EXPECT_EQ(ckpt.background_passes(), 0u);
  int max_pages = 0;
  for (int round = 0; round < 40; ++round) {
    Commit(20);
    max_pages = std::max(max_pages, ckpt.wal_pages());
    // The writer between batches; give the background pass a moment now and then.
    if (round % 4 == 3) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ckpt.AfterBatch();
  }
  EXPECT_GT(ckpt.background_passes(), 0u);
  EXPECT_GT(ckpt.catch_ups(), 0u);
  // 820 pages were written; had the WAL never started over it would hold them all.
  EXPECT_LT(max_pages, 400) << "the WAL kept growing";
  EXPECT_EQ(Rows(), 820);
  ckpt.Stop();
  // Everything committed is in the database file once checkpointed: a fresh reader sees it.
  ASSERT_EQ(sqlite3_wal_checkpoint_v2(conn_->raw(), "main", SQLITE_CHECKPOINT_TRUNCATE, nullptr,
                                      nullptr),
            SQLITE_OK);
  auto reader = SqliteConn::Open((dir_ / "t.db").string(), SqliteConn::Mode::kReadOnly, "full");
  ASSERT_TRUE(reader.ok());
  Stmt s = (*reader)->Prepare("SELECT count(*) FROM t");
  ASSERT_TRUE(s.Step().ok());
  EXPECT_EQ(s.Int(0), 820);
}

// Background only (the redo log's writer, whose commits do not sync): the writer copies nothing
// while the thread's passes keep up, and only past four times the threshold when they cannot.
TEST_F(CheckpointerTest, BackgroundOnlyCopiesOnTheWriterOnlyPastFourTimesTheThreshold) {
  WalCheckpointer ckpt(/*threshold_pages=*/64);
  ckpt.SetBackgroundOnly(true);
  ASSERT_TRUE(ckpt.Start(*conn_, "test-ckpt").ok());
  int max_pages = 0;
  for (int round = 0; round < 30; ++round) {  // a writer with pauses: the passes finish
    Commit(20);
    max_pages = std::max(max_pages, ckpt.wal_pages());
    for (int i = 0; i < 100 && ckpt.wal_pages() >= 64 &&
                    ckpt.background_passes() == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    ckpt.AfterBatch();
  }
  EXPECT_GT(ckpt.background_passes(), 0u);
  EXPECT_EQ(ckpt.catch_ups(), 0u) << "the passes kept up: nothing to copy on the writer";
  EXPECT_LT(max_pages, 4 * 64) << "the WAL started over after the passes";
  for (int round = 0; round < 60; ++round) {  // a writer without pauses
    Commit(20);
    ckpt.AfterBatch();
  }
  EXPECT_EQ(Rows(), 1800);
  ckpt.Stop();
}

TEST_F(CheckpointerTest, StopWithoutAPassAndAfterBatchWithNothingToDoAreHarmless) {
  WalCheckpointer ckpt(/*threshold_pages=*/1000000);
  ASSERT_TRUE(ckpt.Start(*conn_, "test-ckpt").ok());
  Commit(5);
  ckpt.AfterBatch();
  EXPECT_EQ(ckpt.catch_ups(), 0u);
  ckpt.Stop();
  ckpt.Stop();
  EXPECT_EQ(Rows(), 5);
}

}  // namespace
}  // namespace parley::storage::sqlite
