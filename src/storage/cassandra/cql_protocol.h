// The CQL native protocol, version 4 (Apache Cassandra's doc/native_protocol_v4.spec): frames,
// the primitive notations ([int], [short], [string], [bytes], …), bound values, and the bodies
// of the responses Parley reads (ERROR, READY, AUTHENTICATE, AUTH_SUCCESS, RESULT). Pure
// functions over bytes, no I/O: cql_client.* does the talking.
//
// Everything read comes from the network: every length is checked against what is left of the
// frame, nesting of types is bounded (kMaxTypeDepth), a frame body is at most kMaxFrameBody, and
// a malformed input is an Error (kInternal, "cql: …"), never a crash or an overread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace parley::storage::cassandra {

inline constexpr uint8_t kProtocolVersion = 4;  // requests; responses carry 0x84
inline constexpr size_t kFrameHeaderSize = 9;
inline constexpr uint32_t kMaxFrameBody = 64u << 20;  // below the spec's 256 MB: ours are small
inline constexpr int kMaxTypeDepth = 8;

enum class Opcode : uint8_t {
  kError = 0x00, kStartup = 0x01, kReady = 0x02, kAuthenticate = 0x03, kOptions = 0x05,
  kSupported = 0x06, kQuery = 0x07, kResult = 0x08, kPrepare = 0x09, kExecute = 0x0A,
  kRegister = 0x0B, kEvent = 0x0C, kBatch = 0x0D, kAuthChallenge = 0x0E, kAuthResponse = 0x0F,
  kAuthSuccess = 0x10,
};

enum class Consistency : uint16_t {
  kAny = 0x0000, kOne = 0x0001, kTwo = 0x0002, kThree = 0x0003, kQuorum = 0x0004, kAll = 0x0005,
  kLocalQuorum = 0x0006, kEachQuorum = 0x0007, kSerial = 0x0008, kLocalSerial = 0x0009,
  kLocalOne = 0x000A,
};

struct FrameHeader {
  uint8_t version = 0;  // 0x04 request, 0x84 response
  uint8_t flags = 0;
  int16_t stream = 0;
  Opcode opcode = Opcode::kError;
  uint32_t length = 0;  // of the body
};

// Encodes a request frame (version 4, no compression, no tracing).
std::string EncodeFrame(int16_t stream, Opcode op, std::string_view body);
// Decodes the 9 header bytes of a response. Errors: not a v4 response, body over kMaxFrameBody,
// compressed (never asked for).
Result<FrameHeader> DecodeHeader(std::span<const uint8_t, kFrameHeaderSize> bytes);

// Builds a request body from the notations of the spec (all big-endian).
class BodyWriter {
 public:
  BodyWriter& Byte(uint8_t v);
  BodyWriter& Short(uint16_t v);
  BodyWriter& Int(int32_t v);
  BodyWriter& String(std::string_view s);      // [string]: [short] n + n bytes
  BodyWriter& LongString(std::string_view s);  // [long string]: [int] n + n bytes
  BodyWriter& ShortBytes(std::string_view b);  // [short bytes]
  BodyWriter& Bytes(std::string_view b);       // [bytes]: [int] n + n bytes
  BodyWriter& NullBytes();                     // [bytes] of length -1 (null)
  BodyWriter& StringMap(const std::vector<std::pair<std::string, std::string>>& m);
  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// Reads the notations of a response body, with bounds checks. After an error every further read
// fails too; check ok() (or the Result) before using what was read.
class BodyReader {
 public:
  // Reads `body` in place: it must outlive the reader (a temporary string is refused).
  explicit BodyReader(std::string_view body) : rest_(body) {}
  explicit BodyReader(std::string&&) = delete;
  Result<uint8_t> Byte();
  Result<uint16_t> Short();
  Result<int32_t> Int();
  Result<int64_t> Long();
  Result<std::string> String();
  Result<std::string> LongString();
  Result<std::string> ShortBytes();
  // [bytes]: std::nullopt for a null (negative length).
  Result<std::optional<std::string>> Bytes();
  size_t remaining() const { return rest_.size(); }

 private:
  Result<std::string_view> Take(size_t n);
  std::string_view rest_;
};

// A CQL type as the server describes it ([option]): the id and, for collections, tuples and
// user types, the element types. Custom types keep their class name.
struct CqlType {
  enum Id : uint16_t {
    kCustom = 0x0000, kAscii = 0x0001, kBigint = 0x0002, kBlob = 0x0003, kBoolean = 0x0004,
    kCounter = 0x0005, kDecimal = 0x0006, kDouble = 0x0007, kFloat = 0x0008, kInt = 0x0009,
    kTimestamp = 0x000B, kUuid = 0x000C, kVarchar = 0x000D, kVarint = 0x000E, kTimeuuid = 0x000F,
    kInet = 0x0010, kDate = 0x0011, kTime = 0x0012, kSmallint = 0x0013, kTinyint = 0x0014,
    kDuration = 0x0015, kList = 0x0020, kMap = 0x0021, kSet = 0x0022, kUdt = 0x0030,
    kTuple = 0x0031,
  };
  uint16_t id = kCustom;
  std::string custom;            // kCustom: the Java class name
  std::vector<CqlType> params;   // list/set: 1; map: 2; tuple: n; udt: field types
};

struct ColumnSpec {
  std::string keyspace, table, name;
  CqlType type;
};

struct RowsMetadata {
  std::vector<ColumnSpec> columns;
  std::optional<std::string> paging_state;  // set when more pages follow
};

// A RESULT body. kind: 1 Void, 2 Rows, 3 Set_keyspace, 4 Prepared, 5 Schema_change.
struct ResultBody {
  int32_t kind = 0;
  RowsMetadata metadata;                                       // Rows: the columns
  std::vector<std::vector<std::optional<std::string>>> rows;   // Rows: raw cell values
  std::string prepared_id;                                     // Prepared
  std::vector<ColumnSpec> bind_columns;                        // Prepared: the markers
  RowsMetadata result_metadata;                                // Prepared: its rows' columns
};

Result<ResultBody> DecodeResult(std::string_view body);
// An ERROR body as an Error: kUnavailable for what may pass (unavailable, overloaded,
// bootstrapping, timeouts, truncate/server errors), kInvalidArgument for syntax/invalid,
// kConflict for "already exists", kUnauthenticated for bad credentials, kForbidden for
// unauthorized; the server's message after "cql: ". `*code` gets the protocol code.
Error DecodeError(std::string_view body, int32_t* code = nullptr);
inline constexpr int32_t kErrorUnprepared = 0x2500;

// Bound values, encoded as the server expects them for the column's type.
struct CqlValue {
  std::optional<std::string> bytes;  // nullopt: null
};
CqlValue CqlNull();
CqlValue CqlText(std::string_view s);       // text, varchar, ascii
CqlValue CqlBlob(std::string_view b);
CqlValue CqlBigint(int64_t v);              // bigint, counter
CqlValue CqlTimestamp(int64_t ms);          // timestamp: ms since the epoch
CqlValue CqlInt(int32_t v);
CqlValue CqlBool(bool v);
// A uuid or timeuuid in its canonical text form; kInvalidArgument if it is not one.
Result<CqlValue> CqlUuid(std::string_view canonical);
CqlValue CqlTextList(const std::vector<std::string>& items);  // list<text> or set<text>

// Decoding one cell of a row by its column type. kInvalidArgument if the type does not match
// (e.g. reading a bigint as text), kInternal if the bytes are malformed.
Result<std::string> DecodeText(const CqlType& t, std::string_view bytes);    // text/ascii/blob
Result<int64_t> DecodeBigint(const CqlType& t, std::string_view bytes);      // bigint/counter/timestamp/int
Result<bool> DecodeBool(const CqlType& t, std::string_view bytes);
Result<std::string> DecodeUuid(const CqlType& t, std::string_view bytes);    // canonical text
Result<std::vector<std::string>> DecodeTextList(const CqlType& t, std::string_view bytes);

}  // namespace parley::storage::cassandra
