#include "frames.h"

#include <charconv>

namespace parley::bench {

namespace json = boost::json;

namespace {
void AppendHex(std::string& out, uint64_t v, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) out += kHex[(v >> (4 * i)) & 0xF];
}

void AppendInt(std::string& out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}
}  // namespace

void AppendClientMsgId(std::string& out, uint64_t salt, uint64_t counter) {
  // xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx: 60 bits of salt, 60 bits of counter.
  AppendHex(out, salt >> 32, 8);
  out += '-';
  AppendHex(out, salt >> 16, 4);
  out += "-4";
  AppendHex(out, salt >> 4, 3);
  out += "-8";
  AppendHex(out, counter >> 48, 3);
  out += '-';
  AppendHex(out, counter, 12);
}

void AppendSendFrame(std::string& out, uint64_t ref, std::string_view target_key,
                     std::string_view target, uint64_t salt, uint64_t counter,
                     std::string_view body, std::string_view encryption) {
  out += R"({"type":"send","ref":")";
  AppendInt(out, static_cast<int64_t>(ref));
  out += R"(",")";
  out += target_key;
  out += R"(":")";
  out += target;
  out += R"(","client_msg_id":")";
  AppendClientMsgId(out, salt, counter);
  out += R"(","body":")";
  out += body;
  out += R"(","encryption":")";
  out += encryption;
  out += R"("})";
}

void AppendMarkDelivered(std::string& out, std::string_view conversation_id, int64_t up_to_seq) {
  out += R"({"type":"mark_delivered","conversation_id":")";
  out += conversation_id;
  out += R"(","up_to_seq":)";
  AppendInt(out, up_to_seq);
  out += '}';
}

std::string_view StringOf(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

std::optional<int64_t> IntOf(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  return std::nullopt;
}

std::string_view TypeOf(const json::object& frame) { return StringOf(frame, "type"); }

std::optional<uint64_t> RefOf(const json::object& frame) {
  const auto* v = frame.if_contains("ref");
  if (!v) return std::nullopt;
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64() && v->get_int64() >= 0) return static_cast<uint64_t>(v->get_int64());
  if (!v->is_string()) return std::nullopt;
  const auto& s = v->get_string();
  uint64_t out = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return out;
}

std::string ErrorCodeOf(const json::object& frame) {
  if (const auto* e = frame.if_contains("error"); e && e->is_object()) {
    auto code = StringOf(e->get_object(), "code");
    if (!code.empty()) return std::string(code);
  }
  auto code = StringOf(frame, "code");
  return code.empty() ? std::string("unknown") : std::string(code);
}

std::string ErrorMessageOf(const json::object& frame) {
  if (const auto* e = frame.if_contains("error"); e && e->is_object()) {
    return std::string(StringOf(e->get_object(), "message"));
  }
  return std::string(StringOf(frame, "message"));
}

}  // namespace parley::bench
