// The BlobStore conformance suite (blob_conformance_test.cc): every adapter of BlobStore passes
// it. An adapter's test file provides a factory and instantiates the suite:
//
//   INSTANTIATE_TEST_SUITE_P(Local, BlobConformance, ::testing::Values(&MakeLocalBlobs));
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string_view>

#include "storage/blob_store.h"

namespace parley::storage::conformance {

struct Blobs {
  std::shared_ptr<BlobStore> store;  // a fresh, working store
  // A blob this large spans several parts or buffers of the adapter (multipart for S3).
  uint64_t large_size = 3 << 20;
  // Uncommitted writes the adapter still keeps for `key` (temporary files, multipart uploads);
  // an abandoned writer must leave none.
  std::function<size_t(std::string_view key)> leftovers;
};

using BlobFactory = Blobs (*)();

class BlobConformance : public ::testing::TestWithParam<BlobFactory> {
 protected:
  void SetUp() override {
    b_ = GetParam()();
    ASSERT_TRUE(b_.store);
  }
  BlobStore& store() { return *b_.store; }
  Blobs b_;
};

}  // namespace parley::storage::conformance
