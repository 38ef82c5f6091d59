// A small incremental scanner for an XMPP client stream (RFC 6120), good enough for the bench's
// client of ejabberd: it splits the server's bytes into the stream header and the top-level
// elements (stanzas, features, SASL results), and offers lookups of attributes and children.
// It is not an XML parser: no namespaces, entities are left escaped, no CDATA. Memory is bounded
// by max_stanza (an element larger than that is an error).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace parley::bench {

struct XmppEvent {
  enum class Kind { kNeedMore, kStreamOpen, kElement, kStreamClose, kError };
  Kind kind = Kind::kNeedMore;
  // kStreamOpen: the <stream:stream ...> tag; kElement: the whole top-level element. Valid until
  // the next Feed().
  std::string_view text;
};

class XmppScanner {
 public:
  explicit XmppScanner(size_t max_stanza = 1 << 20) : max_stanza_(max_stanza) {}

  void Feed(std::string_view bytes);
  // The next complete event, or kNeedMore. After kError, error() says why and nothing more is
  // returned.
  XmppEvent Next();
  const std::string& error() const { return error_; }
  size_t buffered() const { return buf_.size() - begin_; }

 private:
  std::string buf_;
  size_t begin_ = 0;     // start of the unconsumed bytes (of the element being scanned)
  size_t pos_ = 0;       // resume point of the scan inside that element
  int depth_ = 0;        // open tags inside the element being scanned
  bool in_element_ = false;
  size_t max_stanza_;
  std::string error_;
};

// The name of an element ("message", "stream:features"), from its first tag.
std::string_view ElementName(std::string_view element);
// The value of attribute `name` of the element's first tag, unescaped only for the bench's needs
// (not at all); empty when absent.
std::string_view Attr(std::string_view element, std::string_view name);
// The first descendant element named `name` (its whole text, start tag to end tag), or empty.
std::string_view FindChild(std::string_view element, std::string_view name);
// The text content of the first descendant <name>...</name>, or empty.
std::string_view ChildText(std::string_view element, std::string_view name);

std::string Base64(std::string_view in);

}  // namespace parley::bench
