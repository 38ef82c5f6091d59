#include "services/media/thumbnailer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace parley::services {
namespace {

// A minimal PNG encoder (stored deflate blocks), so the tests need no image library of their own.
uint32_t Crc32(std::string_view d) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : d) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

uint32_t Adler32(std::string_view d) {
  uint32_t a = 1, b = 0;
  for (unsigned char x : d) {
    a = (a + x) % 65521;
    b = (b + a) % 65521;
  }
  return (b << 16) | a;
}

void Be32(std::string& s, uint32_t v) {
  for (int i = 3; i >= 0; --i) s.push_back(static_cast<char>((v >> (i * 8)) & 0xFF));
}

std::string Chunk(std::string_view type, std::string_view data) {
  std::string out;
  Be32(out, static_cast<uint32_t>(data.size()));
  std::string body = std::string(type) + std::string(data);
  out += body;
  Be32(out, Crc32(body));
  return out;
}

std::string Ihdr(uint32_t w, uint32_t h, int color_type) {
  std::string d;
  Be32(d, w);
  Be32(d, h);
  d += std::string{8, static_cast<char>(color_type), 0, 0, 0};
  return Chunk("IHDR", d);
}

std::string Zlib(std::string_view raw) {
  std::string z = "\x78\x01";
  size_t pos = 0;
  do {
    size_t n = std::min<size_t>(65535, raw.size() - pos);
    bool last = pos + n == raw.size();
    z.push_back(last ? 1 : 0);
    z.push_back(static_cast<char>(n & 0xFF));
    z.push_back(static_cast<char>(n >> 8));
    z.push_back(static_cast<char>(~n & 0xFF));
    z.push_back(static_cast<char>((~n >> 8) & 0xFF));
    z.append(raw.substr(pos, n));
    pos += n;
  } while (pos < raw.size());
  Be32(z, Adler32(raw));
  return z;
}

// A w x h gradient, RGB (color_type 2) or RGBA (6).
std::string Png(uint32_t w, uint32_t h, int color_type = 2) {
  int channels = color_type == 6 ? 4 : 3;
  std::string raw;
  for (uint32_t y = 0; y < h; ++y) {
    raw.push_back(0);  // filter: none
    for (uint32_t x = 0; x < w; ++x) {
      raw.push_back(static_cast<char>(x * 255 / w));
      raw.push_back(static_cast<char>(y * 255 / h));
      raw.push_back(static_cast<char>(128));
      if (channels == 4) raw.push_back(static_cast<char>(200));
    }
  }
  return std::string("\x89PNG\r\n\x1A\n", 8) + Ihdr(w, h, color_type) + Chunk("IDAT", Zlib(raw)) +
         Chunk("IEND", "");
}

class ThumbnailerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InitImaging().ok()); }
};

TEST_F(ThumbnailerTest, SniffsByContentOnly) {
  EXPECT_EQ(SniffImageType(Png(1, 1)), "image/png");
  EXPECT_EQ(SniffImageType("\xFF\xD8\xFF\xE0rest"), "image/jpeg");
  EXPECT_EQ(SniffImageType("GIF89a..."), "image/gif");
  EXPECT_EQ(SniffImageType(std::string_view("RIFF\x10\0\0\0WEBPVP8 ", 16)), "image/webp");
  EXPECT_EQ(SniffImageType(std::string_view("RIFF\x10\0\0\0WAVEfmt ", 16)), std::nullopt);
  EXPECT_EQ(SniffImageType("<svg xmlns=..."), std::nullopt);
  EXPECT_EQ(SniffImageType(""), std::nullopt);
}

TEST_F(ThumbnailerTest, ScalesDownKeepingTheAspectRatio) {
  auto t = MakeThumbnail(Png(640, 320), {});
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->media_type, "image/jpeg");
  EXPECT_EQ(t->width, 320);
  EXPECT_EQ(t->height, 160);
  EXPECT_EQ(SniffImageType(t->bytes), "image/jpeg");
}

TEST_F(ThumbnailerTest, NeverEnlargesAndKeepsAlpha) {
  auto t = MakeThumbnail(Png(40, 30, 6), {});
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->media_type, "image/png");
  EXPECT_EQ(t->width, 40);
  EXPECT_EQ(t->height, 30);
}

TEST_F(ThumbnailerTest, JpegInputShrinksWhileDecoding) {
  ThumbnailLimits big;
  big.max_side = 1000;
  auto jpeg = MakeThumbnail(Png(2000, 1000), big);
  ASSERT_TRUE(jpeg.ok()) << jpeg.error().message;
  ASSERT_EQ(jpeg->media_type, "image/jpeg");
  ThumbnailLimits small;
  small.max_side = 100;
  auto t = MakeThumbnail(jpeg->bytes, small);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->width, 100);
  EXPECT_EQ(t->height, 50);
}

TEST_F(ThumbnailerTest, RefusesDecompressionBombsBeforeDecoding) {
  // A header claiming 100000 x 100000 pixels with almost no data behind it.
  std::string bomb = std::string("\x89PNG\r\n\x1A\n", 8) + Ihdr(100000, 100000, 2) +
                     Chunk("IDAT", Zlib(std::string(100, '\0'))) + Chunk("IEND", "");
  auto t = MakeThumbnail(bomb, {});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(t.error().message.find("too many pixels"), std::string::npos) << t.error().message;

  ThumbnailLimits tight;
  tight.max_input_pixels = 99;
  EXPECT_FALSE(MakeThumbnail(Png(10, 10), tight).ok());
  tight.max_input_pixels = 100;
  EXPECT_TRUE(MakeThumbnail(Png(10, 10), tight).ok());
  tight.max_input_bytes = 10;
  EXPECT_FALSE(MakeThumbnail(Png(10, 10), tight).ok());
}

TEST_F(ThumbnailerTest, CorruptOrForeignInputFails) {
  std::string png = Png(64, 64);
  for (std::string input : {std::string(), std::string("not an image at all"),
                            png.substr(0, png.size() / 2),  // truncated
                            png.substr(0, 40),
                            std::string("<svg xmlns='http://www.w3.org/2000/svg'/>"),
                            std::string("\xFF\xD8\xFF\xE0garbage-jpeg", 16),
                            std::string("GIF89a\x01\x00\x01\x00", 10)}) {
    auto t = MakeThumbnail(input, {});
    ASSERT_FALSE(t.ok()) << input.size();
    EXPECT_EQ(t.error().code, ErrorCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace parley::services
