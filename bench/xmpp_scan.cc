#include "xmpp_scan.h"

namespace parley::bench {

namespace {
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Index of the '>' closing the tag that starts at `lt` (quotes respected), or npos.
size_t TagEnd(std::string_view s, size_t lt) {
  char quote = 0;
  for (size_t i = lt + 1; i < s.size(); ++i) {
    const char c = s[i];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '>') {
      return i;
    }
  }
  return std::string_view::npos;
}

std::string_view NameOfTag(std::string_view tag) {  // tag starts with '<' or "</"
  size_t i = tag.size() > 1 && tag[1] == '/' ? 2 : 1;
  size_t j = i;
  while (j < tag.size() && !IsSpace(tag[j]) && tag[j] != '/' && tag[j] != '>') ++j;
  return tag.substr(i, j - i);
}
}  // namespace

void XmppScanner::Feed(std::string_view bytes) {
  if (begin_ > 0 && begin_ >= buf_.size() / 2) {
    buf_.erase(0, begin_);
    pos_ -= begin_;
    begin_ = 0;
  }
  buf_.append(bytes);
}

XmppEvent XmppScanner::Next() {
  if (!error_.empty()) return {XmppEvent::Kind::kError, error_};
  const std::string_view s(buf_);
  for (;;) {
    if (!in_element_) {
      while (begin_ < s.size() && s[begin_] != '<') ++begin_;  // whitespace keep-alives, text
      if (begin_ == s.size()) return {};
      in_element_ = true;
      pos_ = begin_;
      depth_ = 0;
    }
    for (;;) {
      const size_t lt = s.find('<', pos_);
      if (lt == std::string_view::npos) {
        pos_ = s.size();
        break;
      }
      const size_t gt = TagEnd(s, lt);
      if (gt == std::string_view::npos) {
        pos_ = lt;
        break;
      }
      pos_ = gt + 1;
      const std::string_view tag = s.substr(lt, gt + 1 - lt);
      if (tag.size() >= 2 && (tag[1] == '?' || tag[1] == '!')) {
        if (depth_ == 0) {  // prolog or comment between elements
          begin_ = pos_;
          in_element_ = false;
          return Next();
        }
        continue;
      }
      if (tag[1] == '/') {
        if (depth_ == 0) {
          begin_ = pos_;
          in_element_ = false;
          return {XmppEvent::Kind::kStreamClose, tag};
        }
        if (--depth_ == 0) {
          const std::string_view element = s.substr(begin_, pos_ - begin_);
          begin_ = pos_;
          in_element_ = false;
          return {XmppEvent::Kind::kElement, element};
        }
        continue;
      }
      const bool self_closing = tag[tag.size() - 2] == '/';
      if (depth_ == 0) {
        const std::string_view name = NameOfTag(tag);
        if (!self_closing && (name == "stream:stream" || name == "stream")) {
          begin_ = pos_;
          in_element_ = false;
          return {XmppEvent::Kind::kStreamOpen, tag};
        }
        if (self_closing) {
          const std::string_view element = s.substr(begin_, pos_ - begin_);
          begin_ = pos_;
          in_element_ = false;
          return {XmppEvent::Kind::kElement, element};
        }
      }
      if (!self_closing) ++depth_;
    }
    if (s.size() - begin_ > max_stanza_) {
      error_ = "an XMPP element exceeds " + std::to_string(max_stanza_) + " bytes";
      return {XmppEvent::Kind::kError, error_};
    }
    return {};
  }
}

std::string_view ElementName(std::string_view element) {
  if (element.empty() || element[0] != '<') return {};
  return NameOfTag(element);
}

std::string_view Attr(std::string_view element, std::string_view name) {
  const size_t gt = element.empty() ? std::string_view::npos : TagEnd(element, 0);
  const std::string_view tag = element.substr(0, gt == std::string_view::npos ? element.size() : gt);
  size_t i = 0;
  while ((i = tag.find(name, i)) != std::string_view::npos) {
    const size_t after = i + name.size();
    if (i > 0 && IsSpace(tag[i - 1]) && after + 1 < tag.size() && tag[after] == '=' &&
        (tag[after + 1] == '\'' || tag[after + 1] == '"')) {
      const char q = tag[after + 1];
      const size_t end = tag.find(q, after + 2);
      if (end == std::string_view::npos) return {};
      return tag.substr(after + 2, end - after - 2);
    }
    i = after;
  }
  return {};
}

std::string_view FindChild(std::string_view element, std::string_view name) {
  size_t i = 1;
  while ((i = element.find('<', i)) != std::string_view::npos) {
    const size_t gt = TagEnd(element, i);
    if (gt == std::string_view::npos) return {};
    const std::string_view tag = element.substr(i, gt + 1 - i);
    if (tag[1] != '/' && NameOfTag(tag) == name) {
      if (tag[tag.size() - 2] == '/') return tag;
      // The matching end tag; same-named nesting is not needed for the bench's lookups.
      const std::string end = "</" + std::string(name) + ">";
      const size_t e = element.find(end, gt + 1);
      if (e == std::string_view::npos) return {};
      return element.substr(i, e + end.size() - i);
    }
    i = gt + 1;
  }
  return {};
}

std::string_view ChildText(std::string_view element, std::string_view name) {
  const std::string_view child = FindChild(element, name);
  if (child.empty() || child[child.size() - 2] == '/') return {};
  const size_t gt = TagEnd(child, 0);
  const size_t end = child.rfind("</");
  if (gt == std::string_view::npos || end == std::string_view::npos || end < gt) return {};
  return child.substr(gt + 1, end - gt - 1);
}

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    const unsigned v = uint8_t(in[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const unsigned v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

}  // namespace parley::bench
