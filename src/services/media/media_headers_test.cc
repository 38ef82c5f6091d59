#include "services/media/media_headers.h"

#include <gtest/gtest.h>

#include "common/encoding.h"

namespace parley::services {
namespace {

std::string Type(const char* header) {
  std::string h = header;
  auto r = ParseMediaType(&h);
  return r.ok() ? *r : "ERROR:" + std::string(r.error().code == ErrorCode::kUnsupportedMediaType
                                                  ? "415"
                                                  : "other");
}

std::string Name(std::string header) {
  auto r = SanitizeFilename(&header);
  return r.ok() ? *r : "ERROR";
}

TEST(MediaHeadersTest, MediaTypes) {
  EXPECT_EQ(*ParseMediaType(nullptr), "application/octet-stream");
  EXPECT_EQ(Type(""), "application/octet-stream");
  EXPECT_EQ(Type("image/png"), "image/png");
  EXPECT_EQ(Type("Image/PNG"), "image/png");
  EXPECT_EQ(Type(" text/plain ; charset=utf-8"), "text/plain");
  EXPECT_EQ(Type("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
  for (const char* bad : {"png", "image/", "/png", "image/png/x", "image /png", "im age/png",
                          "image/p\"ng", "multipart/form-data; boundary=x", "\xff/\xfe"}) {
    EXPECT_EQ(Type(bad), "ERROR:415") << bad;
  }
  EXPECT_EQ(Type(("a/" + std::string(300, 'b')).c_str()), "ERROR:415");
}

TEST(MediaHeadersTest, Filenames) {
  EXPECT_EQ(*SanitizeFilename(nullptr), "");
  EXPECT_EQ(Name("report.pdf"), "report.pdf");
  EXPECT_EQ(Name("../../etc/passwd"), "passwd");
  EXPECT_EQ(Name("C:\\Users\\me\\photo.jpg"), "photo.jpg");
  EXPECT_EQ(Name(".."), "");
  EXPECT_EQ(Name("dir/"), "");
  EXPECT_EQ(Name("  spaced name.txt  "), "spaced name.txt");
  EXPECT_EQ(Name("a\tb\x01" "c.txt"), "abc.txt");
  EXPECT_EQ(Name("caf%C3%A9.txt"), "caf\xC3\xA9.txt");   // percent-encoded UTF-8
  EXPECT_EQ(Name("caf\xC3\xA9.txt"), "caf\xC3\xA9.txt");  // raw UTF-8
  EXPECT_EQ(Name("100%.txt"), "100%.txt");                // not an escape: kept
  EXPECT_EQ(Name("a%2Fb"), "b");                          // an encoded slash is still a slash
  EXPECT_EQ(Name("caf\xE9.txt"), "ERROR");                // Latin-1, not UTF-8
  EXPECT_EQ(Name("%FF"), "ERROR");
  EXPECT_EQ(Name(std::string(1025, 'a')), "ERROR");
  std::string long_name;
  for (int i = 0; i < 200; ++i) long_name += "\xC3\xA9";  // 400 bytes of 2-byte characters
  std::string cut = Name(long_name);
  EXPECT_EQ(cut.size(), 254u);  // cut on a character boundary
  EXPECT_TRUE(IsUtf8(cut));
}

TEST(MediaHeadersTest, Utf8Validation) {
  EXPECT_TRUE(IsUtf8(""));
  EXPECT_TRUE(IsUtf8("plain"));
  EXPECT_TRUE(IsUtf8("\xF0\x9F\x98\x80"));  // U+1F600
  EXPECT_FALSE(IsUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(IsUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsUtf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(IsUtf8("\xE2\x82"));          // truncated
}

TEST(MediaHeadersTest, Disposition) {
  EXPECT_TRUE(IsInlineType("image/png"));
  EXPECT_TRUE(IsInlineType("video/mp4"));
  EXPECT_TRUE(IsInlineType("audio/ogg"));
  EXPECT_FALSE(IsInlineType("image/svg+xml"));
  EXPECT_FALSE(IsInlineType("application/octet-stream"));
  EXPECT_FALSE(IsInlineType("text/html"));
  EXPECT_FALSE(IsInlineType("application/pdf"));

  EXPECT_EQ(ContentDisposition("application/octet-stream", ""), "attachment");
  EXPECT_EQ(ContentDisposition("image/png", ""), "");
  EXPECT_EQ(ContentDisposition("image/png", "a.png"),
            "inline; filename=\"a.png\"; filename*=UTF-8''a.png");
  EXPECT_EQ(ContentDisposition("text/html", "x\"y z.html"),
            "attachment; filename=\"x_y z.html\"; filename*=UTF-8''x%22y%20z.html");
  EXPECT_EQ(ContentDisposition("application/pdf", "caf\xC3\xA9.pdf"),
            "attachment; filename=\"caf__.pdf\"; filename*=UTF-8''caf%C3%A9.pdf");
}

}  // namespace
}  // namespace parley::services
