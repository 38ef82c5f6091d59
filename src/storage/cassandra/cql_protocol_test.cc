// The CQL v4 codec on hand-built frames: what we send byte for byte, what we accept, and that
// malformed responses (truncated, lying counts, deep types) are errors, never overreads.
#include "storage/cassandra/cql_protocol.h"

#include <gtest/gtest.h>

#include "storage/cassandra/cql_client.h"

namespace parley::storage::cassandra {
namespace {

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

TEST(CqlProtocol, StartupFrameIsByteExact) {
  BodyWriter w;
  w.StringMap({{"CQL_VERSION", "3.0.0"}});
  std::string f = EncodeFrame(1, Opcode::kStartup, w.str());
  std::string want = Bytes({0x04, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x16,  // header
                            0x00, 0x01, 0x00, 0x0b}) +
                     "CQL_VERSION" + Bytes({0x00, 0x05}) + "3.0.0";
  EXPECT_EQ(f, want);
}

TEST(CqlProtocol, HeaderChecks) {
  std::array<uint8_t, 9> h{0x84, 0x00, 0x00, 0x07, 0x08, 0x00, 0x00, 0x01, 0x00};
  auto ok = DecodeHeader(h);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->stream, 7);
  EXPECT_EQ(ok->opcode, Opcode::kResult);
  EXPECT_EQ(ok->length, 256u);
  auto v3 = h;
  v3[0] = 0x83;
  EXPECT_EQ(DecodeHeader(v3).error().code, ErrorCode::kUnavailable);
  auto compressed = h;
  compressed[1] = 0x01;
  EXPECT_FALSE(DecodeHeader(compressed).ok());
  auto huge = h;
  huge[5] = 0x7f;
  EXPECT_FALSE(DecodeHeader(huge).ok());
}

TEST(CqlProtocol, ReaderStopsAtTheEnd) {
  const std::string short_string = Bytes({0x00, 0x05, 'a', 'b'});
  BodyReader r(short_string);
  EXPECT_FALSE(r.String().ok());  // says 5, has 2
  EXPECT_FALSE(r.Byte().ok());    // and nothing after a failure
  const std::string null_bytes = Bytes({0xff, 0xff, 0xff, 0xff});
  BodyReader neg(null_bytes);
  auto b = neg.Bytes();
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->has_value());  // null
  const std::string negative = Bytes({0xff, 0xff, 0xff, 0xfe});
  BodyReader neg2(negative);
  EXPECT_FALSE(neg2.LongString().ok());
}

// A Rows result: global table spec, columns (text, bigint, list<text>), 2 rows, a paging state.
std::string RowsBody(int32_t row_count_claimed = 2) {
  BodyWriter w;
  w.Int(2);                       // Rows
  w.Int(0x0001 | 0x0002);         // global spec, has more pages
  w.Int(3);                       // columns
  w.Bytes("PAGE");                // paging state
  w.String("ks").String("t");
  w.String("name").Short(CqlType::kVarchar);
  w.String("n").Short(CqlType::kBigint);
  w.String("tags").Short(CqlType::kList).Short(CqlType::kVarchar);
  w.Int(row_count_claimed);
  w.Bytes("alice").Bytes(CqlBigint(-5).bytes.value()).Bytes(CqlTextList({"x", "yz"}).bytes.value());
  w.Bytes("bob").NullBytes().NullBytes();
  return w.Take();
}

TEST(CqlProtocol, DecodesRows) {
  auto r = DecodeResult(RowsBody());
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->kind, 2);
  ASSERT_EQ(r->metadata.columns.size(), 3u);
  EXPECT_EQ(r->metadata.columns[0].keyspace, "ks");
  EXPECT_EQ(r->metadata.columns[2].type.params.at(0).id, CqlType::kVarchar);
  EXPECT_EQ(r->metadata.paging_state.value(), "PAGE");
  CqlRows rows(std::move(*r));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows.Column("n"), 1);
  EXPECT_EQ(rows.Column("nope"), -1);
  EXPECT_EQ(*rows.Text(0, 0), "alice");
  EXPECT_EQ(*rows.Bigint(0, 1), -5);
  EXPECT_EQ(*rows.TextList(0, 2), (std::vector<std::string>{"x", "yz"}));
  EXPECT_TRUE(rows.IsNull(1, 1));
  EXPECT_EQ(rows.Bigint(1, 1).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(rows.TextList(1, 2)->empty());
  EXPECT_EQ(rows.Text(0, 1).error().code, ErrorCode::kInvalidArgument);  // a bigint as text
  EXPECT_EQ(rows.Text(5, 0).error().code, ErrorCode::kInvalidArgument);
}

TEST(CqlProtocol, RejectsLiesAndTruncation) {
  EXPECT_FALSE(DecodeResult(RowsBody(1000000)).ok());  // more rows than the body can hold
  EXPECT_FALSE(DecodeResult(RowsBody(-1)).ok());
  std::string body = RowsBody();
  for (size_t cut = 0; cut < body.size(); ++cut)
    EXPECT_FALSE(DecodeResult(body.substr(0, cut)).ok()) << cut;
  BodyWriter unknown;
  unknown.Int(9);
  EXPECT_FALSE(DecodeResult(unknown.str()).ok());
  // list<list<list<…>>> deeper than kMaxTypeDepth
  BodyWriter deep;
  deep.Int(2).Int(0x0001).Int(1).String("k").String("t").String("c");
  for (int i = 0; i < 50; ++i) deep.Short(CqlType::kList);
  deep.Short(CqlType::kVarchar).Int(0);
  EXPECT_FALSE(DecodeResult(deep.str()).ok());
  BodyWriter bad_type;
  bad_type.Int(2).Int(0x0001).Int(1).String("k").String("t").String("c").Short(0x0099).Int(0);
  EXPECT_FALSE(DecodeResult(bad_type.str()).ok());
}

TEST(CqlProtocol, DecodesPrepared) {
  BodyWriter w;
  w.Int(4).ShortBytes(Bytes({0xde, 0xad}));
  // bind metadata: global spec, 2 markers, 1 pk index
  w.Int(0x0001).Int(2).Int(1).Short(0).String("ks").String("t");
  w.String("id").Short(CqlType::kUuid).String("seq").Short(CqlType::kBigint);
  // result metadata: no rows for an INSERT
  w.Int(0x0004).Int(0);
  auto r = DecodeResult(w.str());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->prepared_id, Bytes({0xde, 0xad}));
  ASSERT_EQ(r->bind_columns.size(), 2u);
  EXPECT_EQ(r->bind_columns[1].name, "seq");
  EXPECT_TRUE(r->result_metadata.columns.empty());
}

TEST(CqlProtocol, ErrorsMapToCodes) {
  auto err = [](int32_t code) {
    BodyWriter w;
    w.Int(code).String("boom");
    int32_t seen = 0;
    Error e = DecodeError(w.str(), &seen);
    EXPECT_EQ(seen, code);
    EXPECT_NE(e.message.find("boom"), std::string::npos);
    return e.code;
  };
  EXPECT_EQ(err(0x2000), ErrorCode::kInvalidArgument);
  EXPECT_EQ(err(0x2200), ErrorCode::kInvalidArgument);
  EXPECT_EQ(err(0x2400), ErrorCode::kConflict);
  EXPECT_EQ(err(0x0100), ErrorCode::kUnauthenticated);
  EXPECT_EQ(err(0x2100), ErrorCode::kForbidden);
  EXPECT_EQ(err(0x1000), ErrorCode::kUnavailable);
  EXPECT_EQ(err(0x1100), ErrorCode::kUnavailable);
  EXPECT_EQ(DecodeError("x").code, ErrorCode::kInternal);
}

TEST(CqlProtocol, ValuesRoundTrip) {
  CqlType uuid{CqlType::kUuid, {}, {}};
  auto u = CqlUuid("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->bytes->size(), 16u);
  EXPECT_EQ(*DecodeUuid(uuid, *u->bytes), "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
  EXPECT_EQ(*DecodeUuid(uuid, *CqlUuid("0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D")->bytes),
            "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
  for (const char* bad : {"", "0a1b2c3d4e5f4a6b8c7d9e0f1a2b3c4d", "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4g",
                          "0a1b2c3d-4e5f-4a6b-8c7d_9e0f1a2b3c4d"})
    EXPECT_FALSE(CqlUuid(bad).ok()) << bad;
  CqlType bigint{CqlType::kBigint, {}, {}}, integer{CqlType::kInt, {}, {}}, boolean{CqlType::kBoolean, {}, {}};
  EXPECT_EQ(*DecodeBigint(bigint, *CqlBigint(INT64_MIN).bytes), INT64_MIN);
  EXPECT_EQ(*DecodeBigint(integer, *CqlInt(-7).bytes), -7);
  EXPECT_FALSE(DecodeBigint(bigint, "abc").ok());
  EXPECT_TRUE(*DecodeBool(boolean, *CqlBool(true).bytes));
  EXPECT_FALSE(CqlNull().bytes.has_value());
  CqlType list{CqlType::kList, {}, {CqlType{CqlType::kVarchar, {}, {}}}};
  EXPECT_FALSE(DecodeTextList(list, Bytes({0, 0, 0, 5})).ok());           // claims 5, has none
  EXPECT_FALSE(DecodeTextList(list, *CqlTextList({"a"}).bytes + "x").ok());  // trailing bytes
}

TEST(CqlUrl, Parses) {
  auto u = ParseCqlUrl("cassandra://cassandra:p%40ss@127.0.0.1:29042/parley");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 29042);
  EXPECT_EQ(u->user, "cassandra");
  EXPECT_EQ(u->password, "p@ss");
  EXPECT_EQ(u->keyspace, "parley");
  auto d = ParseCqlUrl("cassandra://db.example");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->port, 9042);
  EXPECT_TRUE(d->keyspace.empty());
  for (const char* bad : {"postgres://x", "cassandra://", "cassandra://h:0", "cassandra://h:99999",
                          "cassandra://h/Bad-Name", "cassandra://:pw@h", "cassandra://u:%zz@h"})
    EXPECT_FALSE(ParseCqlUrl(bad).ok()) << bad;
}

}  // namespace
}  // namespace parley::storage::cassandra
