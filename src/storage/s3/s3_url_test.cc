#include "storage/s3/s3_url.h"

#include <gtest/gtest.h>

namespace parley::storage::s3 {
namespace {

TEST(ParseS3Url, HostPortBucketAndCredentials) {
  auto u = ParseS3Url("s3://parley:parley-dev-secret@127.0.0.1:29000/parley-media");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 29000);
  EXPECT_EQ(u->bucket, "parley-media");
  EXPECT_EQ(u->credentials.access_key, "parley");
  EXPECT_EQ(u->credentials.secret_key, "parley-dev-secret");
  EXPECT_EQ(u->credentials.region, "us-east-1");
  EXPECT_EQ(u->authority(), "127.0.0.1:29000");
  EXPECT_EQ(u->Redacted(), "s3://parley:***@127.0.0.1:29000/parley-media");

  auto d = ParseS3Url("s3://AK:SK@objects.internal/media.bucket/?region=eu-west-3");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->port, 80);
  EXPECT_EQ(d->bucket, "media.bucket");
  EXPECT_EQ(d->credentials.region, "eu-west-3");
}

TEST(ParseS3Url, SecretsWithSlashPlusColonAndAt) {
  // Percent-encoded, or raw: the secret runs from the first ':' to the last '@'.
  auto e = ParseS3Url("s3://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI%2FK7MDENG%2BbPxRfiCYEXAMPLEKEY@h:1/bkt");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->credentials.secret_key, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  auto r = ParseS3Url("s3://AK:a/b+c:d@e@h:1/bkt");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->credentials.secret_key, "a/b+c:d@e");
  EXPECT_EQ(r->host, "h");
}

TEST(ParseS3Url, RejectsMalformedWithoutEchoingTheSecret) {
  for (const char* bad :
       {"", "http://a:b@h:1/bkt", "s3://h:1/bkt", "s3://ak@h:1/bkt", "s3://:sk@h:1/bkt",
        "s3://ak:@h:1/bkt", "s3://ak:sk@h:1", "s3://ak:sk@h:1/", "s3://ak:sk@:1/bkt",
        "s3://ak:sk@h:0/bkt", "s3://ak:sk@h:70000/bkt", "s3://ak:sk@h:x/bkt", "s3://ak:sk@h:1/B",
        "s3://ak:sk@h:1/ab", "s3://ak:sk@h:1/-bkt", "s3://ak:sk@h:1/bkt/key", "s3://ak:sk@h/bkt?x=1",
        "s3://ak:sk@h/bkt?region=", "s3://ak:s%zzk@h/bkt", "s3://ak:sk%2@h/bkt", "s3://ak:sk@h_x/bkt"}) {
    auto u = ParseS3Url(bad);
    ASSERT_FALSE(u.ok()) << bad;
    EXPECT_EQ(u.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(u.error().message.find(":sk@"), std::string::npos) << u.error().message;
  }
}

}  // namespace
}  // namespace parley::storage::s3
