#include "xmpp_scan.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace parley::bench {
namespace {

// What ejabberd 23.01 sends (captured), split at every possible byte boundary.
constexpr std::string_view kServer =
    "<?xml version='1.0'?><stream:stream id='1403' version='1.0' xml:lang='en' "
    "xmlns:stream='http://etherx.jabber.org/streams' from='localhost' xmlns='jabber:client'>"
    "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN"
    "</mechanism></mechanisms><register xmlns='http://jabber.org/features/iq-register'/>"
    "</stream:features>\n <iq xml:lang='en' from='localhost' type='result' id='r1'/>"
    "<message from='b@localhost/pb' to='a@localhost/pb' type='chat' id='m7'>"
    "<body>pb:123:x&gt;</body><request xmlns='urn:xmpp:receipts'/></message>"
    "<message from='a@localhost/pb' id='r9'><received xmlns='urn:xmpp:receipts' id=\"m42\"/>"
    "</message></stream:stream>";

std::vector<std::pair<XmppEvent::Kind, std::string>> ScanInChunks(size_t chunk) {
  XmppScanner sc;
  std::vector<std::pair<XmppEvent::Kind, std::string>> out;
  for (size_t i = 0; i < kServer.size(); i += chunk) {
    sc.Feed(kServer.substr(i, chunk));
    for (XmppEvent e = sc.Next(); e.kind != XmppEvent::Kind::kNeedMore; e = sc.Next()) {
      out.emplace_back(e.kind, std::string(e.text));
      if (e.kind == XmppEvent::Kind::kError) return out;
    }
  }
  return out;
}

TEST(XmppScan, SplitsTheStreamAtAnyBoundary) {
  for (size_t chunk = 1; chunk <= kServer.size(); ++chunk) {
    const auto ev = ScanInChunks(chunk);
    ASSERT_EQ(ev.size(), 6u) << "chunk " << chunk;
    EXPECT_EQ(ev[0].first, XmppEvent::Kind::kStreamOpen);
    EXPECT_EQ(ElementName(ev[1].second), "stream:features");
    EXPECT_EQ(ElementName(ev[2].second), "iq");
    EXPECT_EQ(ElementName(ev[3].second), "message");
    EXPECT_EQ(ElementName(ev[4].second), "message");
    EXPECT_EQ(ev[5].first, XmppEvent::Kind::kStreamClose);
  }
}

TEST(XmppScan, Lookups) {
  const auto ev = ScanInChunks(kServer.size());
  EXPECT_EQ(Attr(ev[0].second, "from"), "localhost");
  EXPECT_EQ(Attr(ev[2].second, "type"), "result");
  EXPECT_EQ(Attr(ev[2].second, "id"), "r1");
  EXPECT_EQ(Attr(ev[2].second, "lang"), "");  // only whole attribute names
  EXPECT_EQ(ChildText(ev[3].second, "body"), "pb:123:x&gt;");
  EXPECT_FALSE(FindChild(ev[3].second, "request").empty());
  EXPECT_TRUE(FindChild(ev[3].second, "received").empty());
  const auto received = FindChild(ev[4].second, "received");
  EXPECT_EQ(Attr(received, "id"), "m42");
  EXPECT_FALSE(FindChild(ev[1].second, "register").empty());
  EXPECT_EQ(ChildText(ev[1].second, "mechanism"), "PLAIN");
}

TEST(XmppScan, BoundsAnElement) {
  XmppScanner sc(64);
  sc.Feed("<stream:stream><message><body>");
  EXPECT_EQ(sc.Next().kind, XmppEvent::Kind::kStreamOpen);
  EXPECT_EQ(sc.Next().kind, XmppEvent::Kind::kNeedMore);
  sc.Feed(std::string(100, 'x'));
  EXPECT_EQ(sc.Next().kind, XmppEvent::Kind::kError);
}

TEST(XmppScan, Base64) {
  EXPECT_EQ(Base64(std::string("\0u\0p", 4)), "AHUAcA==");
  EXPECT_EQ(Base64("abc"), "YWJj");
  EXPECT_EQ(Base64("ab"), "YWI=");
  EXPECT_EQ(Base64(""), "");
}

}  // namespace
}  // namespace parley::bench
