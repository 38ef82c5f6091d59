// The header values of media requests, as pure functions: Range (ParseRange), If-None-Match and
// If-Range (EtagMatches), Content-Type of uploads (ParseMediaType), X-Filename
// (SanitizeFilename) and the Content-Disposition built from them. The first 8 bytes give the
// representation's size (small sizes are made likely); the rest is the header value, and for
// entity tags "<header>\n<etag>". Checks what each function promises.
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "common/encoding.h"
#include "services/media/media_headers.h"
#include "transport/range.h"

using namespace parley;

#define FUZZ_CHECK(cond) \
  if (!(cond)) __builtin_trap()

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  uint64_t size_bits;
  std::memcpy(&size_bits, data, 8);
  // Half the time a small size, so that ranges land inside it; else any 64-bit size.
  const uint64_t rep_size = (size_bits & 1) ? (size_bits >> 1) % 1000 : size_bits;
  std::string_view value(reinterpret_cast<const char*>(data) + 8, size - 8);

  auto d = transport::ParseRange(value, rep_size);
  if (d.kind == transport::RangeDecision::Kind::kPartial) {
    FUZZ_CHECK(rep_size > 0 && d.range.first <= d.range.last && d.range.last < rep_size);
  }
  (void)transport::ParseRange(std::nullopt, rep_size);

  size_t nl = value.find('\n');
  std::string_view header = value.substr(0, nl);
  std::string_view etag = nl == std::string_view::npos ? "\"abc\"" : value.substr(nl + 1);
  (void)transport::EtagMatches(header, etag, true);
  (void)transport::EtagMatches(header, etag, false);

  std::string text(value);
  auto type = services::ParseMediaType(&text);
  if (type.ok()) {
    FUZZ_CHECK(!type->empty() && type->size() <= 255 && type->find('/') != std::string::npos);
  }
  auto name = services::SanitizeFilename(&text);
  if (name.ok()) {
    FUZZ_CHECK(name->size() <= 255 && IsUtf8(*name));
    FUZZ_CHECK(name->find('/') == std::string::npos && name->find('\\') == std::string::npos);
    FUZZ_CHECK(*name != "." && *name != "..");
    std::string disposition = services::ContentDisposition(type.ok() ? *type : "", *name);
    for (char c : disposition) FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0');
  }
  return 0;
}
