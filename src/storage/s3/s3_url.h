// The configuration form of an S3-compatible endpoint:
//
//   s3://ACCESS_KEY:SECRET@HOST[:PORT]/BUCKET[?region=REGION]
//
// Path-style requests over plain HTTP to HOST:PORT (port 80 by default), region us-east-1 by
// default. The access key and secret may be percent-encoded (an AWS secret may hold '/' or '+');
// the secret is everything between the first ':' and the last '@'. The secret is never logged:
// print Redacted() instead of the URL.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "storage/s3/sigv4.h"

namespace parley::storage::s3 {

struct S3Url {
  std::string host;
  int port = 80;
  std::string bucket;
  Credentials credentials;

  // "host:port" as sent in Host (and signed).
  std::string authority() const { return host + ":" + std::to_string(port); }
  // "s3://ACCESS_KEY:***@host:port/bucket" (for logs and messages).
  std::string Redacted() const;
};

// kInvalidArgument (never echoing the secret) for anything but the form above; bucket names are
// 3-63 characters of [a-z0-9.-] starting and ending with a letter or digit.
Result<S3Url> ParseS3Url(std::string_view url);

}  // namespace parley::storage::s3
