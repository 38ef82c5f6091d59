// RedoLog: records round-trip; a torn or corrupt tail, and an older run's records left behind by
// Reset, are not read back.
#include "storage/sqlite/redo_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "common/ids.h"

namespace parley::storage::sqlite {
namespace {

std::string TempPath() {
  auto dir = std::filesystem::temp_directory_path() / ("parley-redo-" + NewUuidV4());
  std::filesystem::create_directories(dir);
  return (dir / "log").string();
}

std::string Batch(uint64_t first_lsn, int n, const std::string& tag) {
  std::string b;
  for (int i = 0; i < n; ++i) {
    RedoBuffer p;
    p.Str(tag).I64(i).Bool(i % 2 == 0);
    RedoLog::Encode(b, first_lsn + i, 7, p.bytes());
  }
  return b;
}

TEST(RedoLog, RecordsRoundTripAcrossReopen) {
  const std::string path = TempPath();
  {
    RedoLog log;
    ASSERT_TRUE(log.Open(path).ok());
    ASSERT_TRUE(log.Read().ok());
    ASSERT_TRUE(log.Append(Batch(1, 3, "a")).ok());
    ASSERT_TRUE(log.Append(Batch(4, 2, "b")).ok());
  }
  RedoLog log;
  ASSERT_TRUE(log.Open(path).ok());
  auto records = log.Read();
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 5u);
  for (size_t i = 0; i < records->size(); ++i) EXPECT_EQ((*records)[i].lsn, i + 1);
  RedoReader r((*records)[3].payload);
  EXPECT_EQ(*r.Str(), "b");
  EXPECT_EQ(*r.I64(), 0);
  EXPECT_TRUE(*r.Bool());
  EXPECT_TRUE(r.done());
  EXPECT_EQ((*records)[3].type, 7);
}

TEST(RedoLog, ATornTailIsNotReadAndIsOverwritten) {
  const std::string path = TempPath();
  RedoLog log;
  ASSERT_TRUE(log.Open(path).ok());
  ASSERT_TRUE(log.Read().ok());
  ASSERT_TRUE(log.Append(Batch(1, 2, "whole")).ok());
  const uint64_t end = log.size();
  // A crash inside the next append: only part of its record reached the file.
  std::string torn = Batch(3, 1, "torn");
  int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, torn.data(), torn.size() / 2, static_cast<off_t>(end)),
            static_cast<ssize_t>(torn.size() / 2));
  ::close(fd);
  RedoLog again;
  ASSERT_TRUE(again.Open(path).ok());
  auto records = again.Read();
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(records->size(), 2u);
  EXPECT_EQ(again.size(), end);  // the next batch overwrites the torn one
  ASSERT_TRUE(again.Append(Batch(3, 1, "next")).ok());
  auto after = again.Read();
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 3u);
  RedoReader r(after->back().payload);
  EXPECT_EQ(*r.Str(), "next");
}

TEST(RedoLog, ACorruptRecordEndsTheLog) {
  const std::string path = TempPath();
  RedoLog log;
  ASSERT_TRUE(log.Open(path).ok());
  ASSERT_TRUE(log.Read().ok());
  ASSERT_TRUE(log.Append(Batch(1, 1, "first")).ok());
  const uint64_t second = log.size();
  ASSERT_TRUE(log.Append(Batch(2, 2, "second")).ok());
  int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  char flip = 'X';
  ASSERT_EQ(::pwrite(fd, &flip, 1, static_cast<off_t>(second + 20)), 1);  // inside its payload
  ::close(fd);
  RedoLog again;
  ASSERT_TRUE(again.Open(path).ok());
  auto records = again.Read();
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(records->size(), 1u);
}

TEST(RedoLog, AfterResetAnOlderRunsRecordsAreNotRead) {
  const std::string path = TempPath();
  RedoLog log;
  ASSERT_TRUE(log.Open(path).ok());
  ASSERT_TRUE(log.Read().ok());
  ASSERT_TRUE(log.Append(Batch(1, 10, "old run")).ok());
  log.Reset();  // all ten committed elsewhere
  ASSERT_TRUE(log.Append(Batch(11, 2, "new run")).ok());  // overwrites the first records only
  RedoLog again;
  ASSERT_TRUE(again.Open(path).ok());
  auto records = again.Read();
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].lsn, 11u);
  EXPECT_EQ((*records)[1].lsn, 12u);
}

TEST(RedoLog, GrowsPastItsFirstAllocation) {
  const std::string path = TempPath();
  RedoLog log;
  ASSERT_TRUE(log.Open(path).ok());
  ASSERT_TRUE(log.Read().ok());
  std::string big;
  RedoLog::Encode(big, 1, 1, std::string(9u << 20, 'z'));  // more than the first 8 MiB
  ASSERT_TRUE(log.Append(big).ok());
  ASSERT_TRUE(log.Append(Batch(2, 1, "after")).ok());
  RedoLog again;
  ASSERT_TRUE(again.Open(path).ok());
  auto records = again.Read();
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].payload.size(), 9u << 20);
}

TEST(RedoReader, AShortOrMalformedPayloadIsAnError) {
  RedoBuffer b;
  b.Str("abc").I64(5);
  std::string bytes = b.bytes();
  RedoReader r(std::string_view(bytes).substr(0, 5));  // the string's length and 1 of 3 bytes
  EXPECT_FALSE(r.Str().ok());
  RedoReader i(std::string_view(bytes).substr(7, 4));  // half an integer
  EXPECT_FALSE(i.I64().ok());
  RedoBuffer two;
  two.I64(2);
  RedoReader flag(two.bytes());
  EXPECT_FALSE(flag.Bool().ok());
}

}  // namespace
}  // namespace parley::storage::sqlite
