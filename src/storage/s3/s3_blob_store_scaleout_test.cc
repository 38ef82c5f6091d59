// S3BlobStore against a real S3-compatible server: PARLEY_TEST_S3_URL
// (s3://ACCESS_KEY:SECRET@HOST:PORT/BUCKET; deploy/dev.sh up starts S3Proxy and `dev.sh env`
// prints it). The tests fail, not skip, when it is unset. The BlobStore conformance suite runs
// here too, with 5 MiB parts and a blob of four parts and a bit.
#include "storage/s3/s3_blob_store.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

#include "common/ids.h"
#include "storage/conformance/blob_conformance.h"

namespace parley::storage::s3 {
namespace {

constexpr uint64_t kPart = 5ull << 20;

std::string TestUrl() {
  const char* url = std::getenv("PARLEY_TEST_S3_URL");
  return url ? url : "";
}

std::shared_ptr<S3BlobStore> OpenStore() {
  std::string url = TestUrl();
  if (url.empty()) {
    ADD_FAILURE() << "PARLEY_TEST_S3_URL is not set (deploy/dev.sh up; eval \"$(deploy/dev.sh env)\")";
    return nullptr;
  }
  auto parsed = ParseS3Url(url);
  if (!parsed.ok()) {
    ADD_FAILURE() << parsed.error().message;
    return nullptr;
  }
  S3Options o;
  o.url = *parsed;
  o.part_size = kPart;
  auto store = std::make_shared<S3BlobStore>(o);
  if (Status st = store->Open(); !st.ok()) {
    ADD_FAILURE() << "cannot open " << parsed->Redacted() << ": " << st.error().message;
    return nullptr;
  }
  return store;
}

conformance::Blobs MakeS3Blobs() {
  conformance::Blobs b;
  auto s3 = OpenStore();
  b.store = s3;
  b.large_size = 4 * kPart + 12345;  // four full parts and a short last one
  b.leftovers = [s3](std::string_view key) -> size_t {
    auto ids = s3->MultipartUploads(key);
    EXPECT_TRUE(ids.ok()) << (ids.ok() ? "" : ids.error().message);
    return ids.ok() ? ids->size() : 1;
  };
  return b;
}

using conformance::BlobConformance;
INSTANTIATE_TEST_SUITE_P(S3, BlobConformance, ::testing::Values(&MakeS3Blobs));

void Put(BlobStore& s, const std::string& key, std::string_view bytes) {
  auto w = s.Create(key);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Append(bytes).ok());
  auto st = (*w)->Commit();
  ASSERT_TRUE(st.ok()) << st.error().message;
}

// A plain HTTP GET, no credentials: what a client redirected to the URL does.
Result<HttpResponse> PlainGet(const std::string& url) {
  std::string rest = url.substr(std::string_view("http://").size());
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  size_t colon = authority.rfind(':');
  HttpClient client(authority.substr(0, colon), std::stoi(authority.substr(colon + 1)), {});
  return client.Send({"GET", rest.substr(slash), {}, {}}, 64 << 20);
}

TEST(S3BlobStore, TwentyMiBInFiveMiBPartsIsOneObject) {
  auto s3 = OpenStore();
  ASSERT_TRUE(s3);
  std::string key = NewUuidV4();
  std::string data(20u << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 131) ^ (i >> 20));
  auto w = s3->Create(key);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Append(std::string_view(data).substr(0, 12u << 20)).ok());
  // Two parts are uploaded by now, and the upload is in progress, but nothing is visible.
  auto pending = s3->MultipartUploads(key);
  ASSERT_TRUE(pending.ok()) << pending.error().message;
  EXPECT_EQ(pending->size(), 1u);
  EXPECT_EQ(s3->Open(key).error().code, ErrorCode::kNotFound);
  ASSERT_TRUE((*w)->Append(std::string_view(data).substr(12u << 20)).ok());
  auto st = (*w)->Commit();
  ASSERT_TRUE(st.ok()) << st.error().message;
  pending = s3->MultipartUploads(key);
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->empty());

  auto r = s3->Open(key);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->size(), data.size());
  // Across the part boundary at 5 MiB, and past the end.
  std::string buf(10, '\0');
  auto n = (*r)->ReadAt(kPart - 5, buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(buf.substr(0, *n), data.substr(kPart - 5, 10));
  n = (*r)->ReadAt(data.size(), buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
  EXPECT_TRUE(s3->Remove(key).ok());
}

TEST(S3BlobStore, AbandonedMultipartUploadIsAborted) {
  auto s3 = OpenStore();
  ASSERT_TRUE(s3);
  std::string key = NewUuidV4();
  {
    auto w = s3->Create(key);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append(std::string(kPart + 1, 'x')).ok());  // one part sent
    auto pending = s3->MultipartUploads(key);
    ASSERT_TRUE(pending.ok());
    EXPECT_EQ(pending->size(), 1u);
  }
  auto pending = s3->MultipartUploads(key);
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->empty());
  EXPECT_EQ(s3->Open(key).error().code, ErrorCode::kNotFound);
}

TEST(S3BlobStore, PresignedUrlDownloadsAndTamperingFails) {
  auto s3 = OpenStore();
  ASSERT_TRUE(s3);
  std::string key = NewUuidV4();
  Put(*s3, key, "presigned bytes");
  auto url = s3->PresignGet(key, 300);
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->find(s3->url().credentials.secret_key), std::string::npos);
  auto r = PlainGet(*url);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "presigned bytes");

  std::string tampered = *url;
  char& last = tampered.back();
  last = last == '0' ? '1' : '0';
  r = PlainGet(tampered);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 403);

  // Another object under the same signature.
  std::string other = *url;
  other.replace(other.find(key), key.size(), NewUuidV4());
  r = PlainGet(other);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 403);

  // Expired: signed two hours ago for one hour.
  auto old = s3->PresignGetAt(key, 3600, std::time(nullptr) - 7200);
  ASSERT_TRUE(old.ok());
  r = PlainGet(*old);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 403);

  EXPECT_EQ(s3->PresignGet(key, 8 * 86400).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(s3->PresignGet("../x", 60).error().code, ErrorCode::kInvalidArgument);
}

TEST(S3BlobStore, WrongSecretOrBucketIsUnavailable) {
  auto parsed = ParseS3Url(TestUrl());
  ASSERT_TRUE(parsed.ok()) << "PARLEY_TEST_S3_URL: " << (parsed.ok() ? "" : parsed.error().message);
  S3Options o;
  o.url = *parsed;
  o.url.credentials.secret_key += "-wrong";
  S3BlobStore wrong_secret(o);
  Status st = wrong_secret.Open();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(st.error().message.find(o.url.credentials.secret_key), std::string::npos);
  EXPECT_EQ(wrong_secret.Open(NewUuidV4()).error().code, ErrorCode::kUnavailable);

  o.url = *parsed;
  o.url.bucket = "no-such-bucket-" + NewUuidV4().substr(0, 8);
  S3BlobStore no_bucket(o);
  st = no_bucket.Open();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kUnavailable);
}

TEST(S3BlobStore, UnreachableEndpointIsUnavailable) {
  auto parsed = ParseS3Url("s3://ak:sk@127.0.0.1:1/parley-media");
  ASSERT_TRUE(parsed.ok());
  S3Options o;
  o.url = *parsed;
  o.http.connect_timeout_ms = 500;
  o.http.io_timeout_ms = 500;
  S3BlobStore s3(o);
  EXPECT_EQ(s3.Ping().error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(s3.Open().error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(s3.Open(NewUuidV4()).error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(s3.Remove(NewUuidV4()).error().code, ErrorCode::kUnavailable);
  auto w = s3.Create(NewUuidV4());
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Append(std::string_view("x")).ok());
  auto st = (*w)->Commit();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace parley::storage::s3
