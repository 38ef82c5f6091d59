// Secret files: created 0600, refused when others may access them; their directory created 0700.
#include "common/secret_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "common/ids.h"

namespace parley {
namespace {

std::string TempDir() {
  auto d = std::filesystem::temp_directory_path() / ("parley-secret-" + NewUuidV4());
  std::filesystem::create_directories(d);
  return d.string();
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return st.st_mode & 07777;
}

TEST(SecretFile, WrittenPrivateAndReadBack) {
  std::string path = TempDir() + "/key";
  EXPECT_FALSE(ReadSecretFile(path)->has_value());  // absent
  ASSERT_TRUE(WriteNewSecretFile(path, "0123456789abcdef").ok());
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(**ReadSecretFile(path), "0123456789abcdef");
  EXPECT_FALSE(WriteNewSecretFile(path, "again").ok());  // never over an existing key
}

TEST(SecretFile, RefusedWhenOthersMayAccessIt) {
  std::string path = TempDir() + "/key";
  ASSERT_TRUE(WriteNewSecretFile(path, "secret").ok());
  for (mode_t mode : {0644, 0640, 0604, 0660, 0602}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    auto r = ReadSecretFile(path);
    ASSERT_FALSE(r.ok()) << std::oct << mode;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find("chmod 600 " + path), std::string::npos) << r.error().message;
  }
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  EXPECT_TRUE(ReadSecretFile(path).ok());
}

TEST(SecretFile, TheDirectoryIsCreatedPrivate) {
  std::string dir = TempDir() + "/a/secrets";
  ASSERT_TRUE(EnsurePrivateDir(dir).ok());
  EXPECT_EQ(ModeOf(dir), 0700u);
  EXPECT_TRUE(EnsurePrivateDir(dir).ok());  // exists: fine
}

}  // namespace
}  // namespace parley
