// The BlobStore conformance suite, and its instantiation on the embedded adapter (LocalBlobStore).
// The S3 adapter instantiates it in storage/s3/s3_blob_store_scaleout_test.cc.
#include <algorithm>
#include <cstdint>
#include <filesystem>

#include "common/encoding.h"
#include "common/ids.h"
#include "storage/conformance/blob_conformance.h"
#include "storage/local/local_blob_store.h"

namespace parley::storage::conformance {
namespace {

void Put(BlobStore& s, std::string_view key, std::string_view bytes) {
  auto w = s.Create(key);
  ASSERT_TRUE(w.ok()) << w.error().message;
  ASSERT_TRUE((*w)->Append(bytes).ok());
  auto st = (*w)->Commit();
  ASSERT_TRUE(st.ok()) << st.error().message;
}

std::string ReadAll(BlobStore& s, std::string_view key) {
  auto r = s.Open(key);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  if (!r.ok()) return {};
  std::string out((*r)->size(), '\0');
  size_t done = 0;
  while (done < out.size()) {  // ReadAt may return less than asked
    auto n = (*r)->ReadAt(done, std::span<char>(out).subspan(done));
    EXPECT_TRUE(n.ok());
    if (!n.ok() || *n == 0) break;
    done += *n;
  }
  out.resize(done);
  return out;
}

// Deterministic, position-dependent bytes: a misplaced part shows.
std::string Pattern(size_t n) {
  std::string s(n, '\0');
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s[i] = static_cast<char>(x);
  }
  return s;
}

TEST_P(BlobConformance, WriteCommitReadAtBoundaries) {
  std::string key = NewUuidV4();
  auto w = store().Create(key);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Append(std::string_view("hello ")).ok());
  ASSERT_TRUE((*w)->Append(std::string_view("world")).ok());
  EXPECT_EQ((*w)->size(), 11u);
  EXPECT_EQ(store().Open(key).error().code, ErrorCode::kNotFound);  // not visible before Commit
  ASSERT_TRUE((*w)->Commit().ok());
  w->reset();
  EXPECT_EQ(ReadAll(store(), key), "hello world");

  auto r = store().Open(key);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->size(), 11u);
  std::string part(5, '\0');
  auto n = (*r)->ReadAt(6, part);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(part.substr(0, *n), "world");
  n = (*r)->ReadAt(0, std::span<char>(part).subspan(0, 1));  // first byte
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(part.substr(0, *n), "h");
  n = (*r)->ReadAt(9, part);  // short read at the end
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(part.substr(0, *n), "ld");
  n = (*r)->ReadAt(10, part);  // the last byte
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(part.substr(0, *n), "d");
  for (uint64_t past : {uint64_t{11}, uint64_t{100}}) {
    n = (*r)->ReadAt(past, part);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 0u);
  }
  n = (*r)->ReadAt(0, std::span<char>());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
}

TEST_P(BlobConformance, LargeBlobRoundTripsAcrossParts) {
  std::string key = NewUuidV4();
  std::string data = Pattern(static_cast<size_t>(b_.large_size));
  auto w = store().Create(key);
  ASSERT_TRUE(w.ok());
  // Uneven appends, as an upload's body arrives.
  size_t at = 0, step = 300 * 1024 + 7;
  while (at < data.size()) {
    size_t n = std::min(step, data.size() - at);
    ASSERT_TRUE((*w)->Append(std::string_view(data).substr(at, n)).ok());
    at += n;
  }
  EXPECT_EQ(store().Open(key).error().code, ErrorCode::kNotFound);
  auto st = (*w)->Commit();
  ASSERT_TRUE(st.ok()) << st.error().message;
  w->reset();
  EXPECT_EQ(b_.leftovers(key), 0u);

  auto r = store().Open(key);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ((*r)->size(), data.size());
  std::string got = ReadAll(store(), key);
  ASSERT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
  // Reads across every 1 MiB boundary, and the tail.
  for (uint64_t boundary = 1 << 20; boundary < data.size(); boundary += 1 << 20) {
    std::string buf(64, '\0');
    auto n = (*r)->ReadAt(boundary - 32, buf);
    ASSERT_TRUE(n.ok());
    ASSERT_EQ(*n, 64u);
    EXPECT_EQ(buf, data.substr(boundary - 32, 64)) << boundary;
  }
  std::string tail(100, '\0');
  auto n = (*r)->ReadAt(data.size() - 10, tail);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(tail.substr(0, *n), data.substr(data.size() - 10));
  EXPECT_TRUE(store().Remove(key).ok());
}

TEST_P(BlobConformance, AbandonedWriterLeavesNothing) {
  std::string small = NewUuidV4(), large = NewUuidV4();
  {
    auto w = store().Create(small);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append(std::string_view("partial")).ok());
  }
  {
    auto w = store().Create(large);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append(Pattern(static_cast<size_t>(b_.large_size))).ok());
    EXPECT_EQ(store().Open(large).error().code, ErrorCode::kNotFound);
  }
  for (const std::string& key : {small, large}) {
    EXPECT_EQ(store().Open(key).error().code, ErrorCode::kNotFound);
    EXPECT_EQ(b_.leftovers(key), 0u);
  }
}

TEST_P(BlobConformance, EmptyBlobVariantKeysAndReplacement) {
  std::string key = NewUuidV4();
  Put(store(), key, "");
  Put(store(), key + ".thumb", "small");
  EXPECT_EQ(ReadAll(store(), key), "");
  auto r = store().Open(key);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->size(), 0u);
  EXPECT_EQ(ReadAll(store(), key + ".thumb"), "small");
  Put(store(), key + ".thumb", "replaced");
  EXPECT_EQ(ReadAll(store(), key + ".thumb"), "replaced");
}

TEST_P(BlobConformance, RejectsKeysThatCouldBePaths) {
  for (std::string_view key : std::initializer_list<std::string_view>{
           "", "../etc/passwd", "a/b", ".hidden", "UPPER", "a\\b", "a b", "a?b", "a%2Fb",
           std::string_view("x\0y", 3)}) {
    EXPECT_EQ(store().Create(key).error().code, ErrorCode::kInvalidArgument) << key;
    EXPECT_EQ(store().Open(key).error().code, ErrorCode::kInvalidArgument) << key;
    EXPECT_EQ(store().Remove(key).error().code, ErrorCode::kInvalidArgument) << key;
  }
  std::string longest(128, 'a');
  Put(store(), longest, "x");
  EXPECT_EQ(ReadAll(store(), longest), "x");
  EXPECT_TRUE(store().Remove(longest).ok());
  EXPECT_EQ(store().Create(std::string(129, 'a')).error().code, ErrorCode::kInvalidArgument);
}

TEST_P(BlobConformance, RemoveIsIdempotentAndMissingIsNotFound) {
  std::string key = NewUuidV4();
  EXPECT_EQ(store().Open(key).error().code, ErrorCode::kNotFound);
  Put(store(), key, "bytes");
  EXPECT_TRUE(store().Remove(key).ok());
  EXPECT_EQ(store().Open(key).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(store().Remove(key).ok());
  EXPECT_TRUE(store().Ping().ok());
}

Blobs MakeLocalBlobs() {
  auto root = std::filesystem::temp_directory_path() / ("parley-blobconf-" + NewUuidV4());
  auto* local = new local::LocalBlobStore(root.string());
  std::shared_ptr<BlobStore> store(local, [root](BlobStore* s) {
    delete s;
    std::filesystem::remove_all(root);
  });
  EXPECT_TRUE(local->Open().ok());
  Blobs b;
  b.store = store;
  b.large_size = (3 << 20) + 123;
  b.leftovers = [root](std::string_view) {
    return static_cast<size_t>(std::distance(std::filesystem::directory_iterator(root / "tmp"),
                                             std::filesystem::directory_iterator()));
  };
  return b;
}

INSTANTIATE_TEST_SUITE_P(Local, BlobConformance, ::testing::Values(&MakeLocalBlobs));

}  // namespace
}  // namespace parley::storage::conformance
