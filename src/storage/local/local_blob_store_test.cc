#include "storage/local/local_blob_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/ids.h"

namespace parley::storage::local {
namespace {

namespace fs = std::filesystem;

class LocalBlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("parley-blobs-" + NewUuidV4());
    store_ = std::make_unique<LocalBlobStore>(root_.string());
    ASSERT_TRUE(store_->Open().ok());
  }
  void TearDown() override { fs::remove_all(root_); }

  void Put(std::string_view key, std::string_view bytes) {
    auto w = store_->Create(key);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append(bytes).ok());
    ASSERT_TRUE((*w)->Commit().ok());
  }
  std::string ReadAll(std::string_view key) {
    auto r = store_->Open(key);
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return {};
    std::string out((*r)->size(), '\0');
    auto n = (*r)->ReadAt(0, out);
    EXPECT_TRUE(n.ok());
    out.resize(n.ok() ? *n : 0);
    return out;
  }
  size_t TmpFiles() {
    return static_cast<size_t>(std::distance(fs::directory_iterator(root_ / "tmp"),
                                             fs::directory_iterator()));
  }

  fs::path root_;
  std::unique_ptr<LocalBlobStore> store_;
};

TEST_F(LocalBlobStoreTest, WriteCommitRead) {
  std::string key = NewUuidV4();
  auto w = store_->Create(key);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Append(std::string_view("hello ")).ok());
  ASSERT_TRUE((*w)->Append(std::string_view("world")).ok());
  EXPECT_EQ((*w)->size(), 11u);
  EXPECT_EQ(store_->Open(key).error().code, ErrorCode::kNotFound);  // not visible before Commit
  ASSERT_TRUE((*w)->Commit().ok());
  w->reset();
  EXPECT_EQ(ReadAll(key), "hello world");
  EXPECT_EQ(TmpFiles(), 0u);

  auto r = store_->Open(key);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->size(), 11u);
  std::string part(5, '\0');
  auto n = (*r)->ReadAt(6, part);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(part.substr(0, *n), "world");
  n = (*r)->ReadAt(9, part);  // short read at the end
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(part.substr(0, *n), "ld");
  n = (*r)->ReadAt(100, part);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
}

TEST_F(LocalBlobStoreTest, UncommittedWriterLeavesNothing) {
  std::string key = NewUuidV4();
  {
    auto w = store_->Create(key);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append(std::string_view("partial")).ok());
    EXPECT_EQ(TmpFiles(), 1u);
  }
  EXPECT_EQ(TmpFiles(), 0u);
  EXPECT_EQ(store_->Open(key).error().code, ErrorCode::kNotFound);
}

TEST_F(LocalBlobStoreTest, EmptyBlobAndVariantKeys) {
  std::string key = NewUuidV4();
  Put(key, "");
  Put(key + ".thumb", "small");
  EXPECT_EQ(ReadAll(key), "");
  EXPECT_EQ(ReadAll(key + ".thumb"), "small");
  EXPECT_TRUE(fs::exists(store_->PathOf(key)));
  EXPECT_EQ(fs::path(store_->PathOf(key)).parent_path().parent_path(), root_);
}

TEST_F(LocalBlobStoreTest, RejectsKeysThatCouldBePaths) {
  for (std::string_view key : std::initializer_list<std::string_view>{"", "../etc/passwd", "a/b", ".hidden", "UPPER", "a\\b", "a b",
                               std::string_view("x\0y", 3)}) {
    EXPECT_EQ(store_->Create(key).error().code, ErrorCode::kInvalidArgument) << key;
    EXPECT_EQ(store_->Open(key).error().code, ErrorCode::kInvalidArgument) << key;
    EXPECT_EQ(store_->Remove(key).error().code, ErrorCode::kInvalidArgument) << key;
  }
  EXPECT_FALSE(IsValidBlobKey(std::string(129, 'a')));
  EXPECT_TRUE(IsValidBlobKey(std::string(128, 'a')));
}

TEST_F(LocalBlobStoreTest, RemoveIsIdempotent) {
  std::string key = NewUuidV4();
  Put(key, "bytes");
  EXPECT_TRUE(store_->Remove(key).ok());
  EXPECT_EQ(store_->Open(key).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(store_->Remove(key).ok());
}

TEST_F(LocalBlobStoreTest, OpenClearsLeftoversOfACrash) {
  { std::ofstream(root_ / "tmp" / "dead.part") << "half an upload"; }
  std::string key = NewUuidV4();
  Put(key, "kept");
  LocalBlobStore again(root_.string());
  ASSERT_TRUE(again.Open().ok());
  EXPECT_EQ(TmpFiles(), 0u);
  EXPECT_TRUE(again.Open(key).ok());
  EXPECT_TRUE(again.Ping().ok());
}

}  // namespace
}  // namespace parley::storage::local
