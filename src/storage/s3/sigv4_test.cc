// SigV4 against AWS's published examples (inputs and expected values as the AWS documentation
// gives them; each was also reproduced independently with Python's hmac/hashlib).
#include "storage/s3/sigv4.h"

#include <gtest/gtest.h>

#include "common/encoding.h"

namespace parley::storage::s3 {
namespace {

// IAM User Guide, "Examples of how to derive a signing key for Signature Version 4".
TEST(SigV4, SigningKeyOfTheIamExample) {
  auto key = SigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(HexEncode(*key), "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

// The S3 examples use this key pair.
Credentials S3ExampleCredentials() {
  return {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1"};
}

// S3 API Reference, "Signature Calculations for the Authorization Header: Transferring Payload in
// a Single Chunk", example "GET Object".
TEST(SigV4, S3GetObjectExample) {
  SignableRequest req;
  req.method = "GET";
  req.path = "/test.txt";
  req.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                 {"Range", "bytes=0-9"},
                 {"x-amz-content-sha256", std::string(kEmptyPayloadSha256)},
                 {"x-amz-date", "20130524T000000Z"}};
  req.payload_sha256 = std::string(kEmptyPayloadSha256);

  std::string signed_headers;
  std::string canonical = CanonicalRequest(req, &signed_headers);
  EXPECT_EQ(signed_headers, "host;range;x-amz-content-sha256;x-amz-date");
  EXPECT_EQ(canonical,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  auto h = Sha256Hex(canonical);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(*h, "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");

  auto auth = AuthorizationHeader(S3ExampleCredentials(), req, "20130524T000000Z", "s3");
  ASSERT_TRUE(auth.ok());
  EXPECT_EQ(*auth,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

// S3 API Reference, "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)".
TEST(SigV4, S3PresignedUrlExample) {
  auto url = PresignGetUrl(S3ExampleCredentials(), "https://examplebucket.s3.amazonaws.com",
                           "examplebucket.s3.amazonaws.com", "/test.txt", "20130524T000000Z", 86400);
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(*url,
            "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
            "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

TEST(SigV4, PresignedUrlLifetimeIsBounded) {
  for (int64_t bad : {int64_t{0}, int64_t{-1}, kMaxPresignSeconds + 1}) {
    auto url = PresignGetUrl(S3ExampleCredentials(), "http://h:1", "h:1", "/b/k", "20130524T000000Z", bad);
    ASSERT_FALSE(url.ok()) << bad;
    EXPECT_EQ(url.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_TRUE(PresignGetUrl(S3ExampleCredentials(), "http://h:1", "h:1", "/b/k", "20130524T000000Z",
                            kMaxPresignSeconds)
                  .ok());
}

TEST(SigV4, EncodingAndCanonicalQuery) {
  EXPECT_EQ(UriEncode("a b/c~d_e.f-g+h=", false), "a%20b%2Fc~d_e.f-g%2Bh%3D");
  EXPECT_EQ(UriEncode("/bucket/key.thumb", true), "/bucket/key.thumb");
  // Sorted by encoded name; a subresource has an empty value.
  EXPECT_EQ(CanonicalQueryString({{"uploadId", "a/b"}, {"partNumber", "2"}}),
            "partNumber=2&uploadId=a%2Fb");
  EXPECT_EQ(CanonicalQueryString({{"uploads", ""}}), "uploads=");
  EXPECT_EQ(AmzDate(1369353600), "20130524T000000Z");
}

TEST(SigV4, HeaderValuesAreTrimmedAndNamesLowercased) {
  SignableRequest req;
  req.method = "PUT";
  req.path = "/b/k";
  req.headers = {{"X-Amz-Date", "  20130524T000000Z "}, {"Host", "h:1"}, {"X-Amz-Meta-A", "a   b"}};
  req.payload_sha256 = "UNSIGNED-PAYLOAD";
  std::string names;
  EXPECT_EQ(CanonicalRequest(req, &names),
            "PUT\n/b/k\n\nhost:h:1\nx-amz-date:20130524T000000Z\nx-amz-meta-a:a b\n\n"
            "host;x-amz-date;x-amz-meta-a\nUNSIGNED-PAYLOAD");
}

}  // namespace
}  // namespace parley::storage::s3
