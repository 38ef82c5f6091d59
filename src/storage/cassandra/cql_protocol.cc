#include "storage/cassandra/cql_protocol.h"

#include <cstring>

namespace parley::storage::cassandra {

namespace {

Error Malformed(std::string what) { return MakeError(ErrorCode::kInternal, "cql: malformed " + std::move(what)); }

void PutBE(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetBE(std::string_view b) {
  uint64_t v = 0;
  for (unsigned char c : b) v = (v << 8) | c;
  return v;
}

Result<CqlType> ReadType(BodyReader& r, int depth) {
  if (depth > kMaxTypeDepth) return Malformed("type (nested too deeply)");
  auto id = r.Short();
  if (!id.ok()) return id.error();
  CqlType t;
  t.id = *id;
  auto param = [&]() -> Status {
    auto p = ReadType(r, depth + 1);
    if (!p.ok()) return p.error();
    t.params.push_back(std::move(*p));
    return OkStatus();
  };
  switch (t.id) {
    case CqlType::kCustom: {
      auto name = r.String();
      if (!name.ok()) return name.error();
      t.custom = std::move(*name);
      break;
    }
    case CqlType::kList:
    case CqlType::kSet:
      if (Status st = param(); !st.ok()) return st.error();
      break;
    case CqlType::kMap:
      for (int i = 0; i < 2; ++i)
        if (Status st = param(); !st.ok()) return st.error();
      break;
    case CqlType::kUdt: {
      auto ks = r.String();
      auto name = ks.ok() ? r.String() : Result<std::string>(ks.error());
      auto n = name.ok() ? r.Short() : Result<uint16_t>(name.error());
      if (!n.ok()) return n.error();
      t.custom = *ks + "." + *name;
      for (int i = 0; i < *n; ++i) {
        auto field = r.String();
        if (!field.ok()) return field.error();
        if (Status st = param(); !st.ok()) return st.error();
      }
      break;
    }
    case CqlType::kTuple: {
      auto n = r.Short();
      if (!n.ok()) return n.error();
      for (int i = 0; i < *n; ++i)
        if (Status st = param(); !st.ok()) return st.error();
      break;
    }
    default:
      if (t.id > CqlType::kDuration) return Malformed("type id " + std::to_string(t.id));
  }
  return t;
}

// <metadata> of a Rows result or of a Prepared result (`prepared`: with the pk indexes).
Result<RowsMetadata> ReadMetadata(BodyReader& r, bool prepared) {
  RowsMetadata m;
  auto flags = r.Int();
  auto count = flags.ok() ? r.Int() : Result<int32_t>(flags.error());
  if (!count.ok()) return count.error();
  if (*count < 0 || static_cast<size_t>(*count) > r.remaining()) return Malformed("column count");
  if (prepared) {
    auto pk = r.Int();
    if (!pk.ok()) return pk.error();
    if (*pk < 0 || static_cast<size_t>(*pk) * 2 > r.remaining()) return Malformed("pk count");
    for (int i = 0; i < *pk; ++i)
      if (auto s = r.Short(); !s.ok()) return s.error();
  }
  if (!prepared && (*flags & 0x0002)) {
    auto state = r.Bytes();
    if (!state.ok()) return state.error();
    m.paging_state = std::move(*state);
  }
  if (!prepared && (*flags & 0x0004)) return m;  // No_metadata
  std::string gks, gtable;
  const bool global = *flags & 0x0001;
  if (global) {
    auto ks = r.String();
    auto table = ks.ok() ? r.String() : Result<std::string>(ks.error());
    if (!table.ok()) return table.error();
    gks = std::move(*ks);
    gtable = std::move(*table);
  }
  m.columns.reserve(*count);
  for (int i = 0; i < *count; ++i) {
    ColumnSpec c;
    if (global) {
      c.keyspace = gks;
      c.table = gtable;
    } else {
      auto ks = r.String();
      auto table = ks.ok() ? r.String() : Result<std::string>(ks.error());
      if (!table.ok()) return table.error();
      c.keyspace = std::move(*ks);
      c.table = std::move(*table);
    }
    auto name = r.String();
    if (!name.ok()) return name.error();
    c.name = std::move(*name);
    auto type = ReadType(r, 0);
    if (!type.ok()) return type.error();
    c.type = std::move(*type);
    m.columns.push_back(std::move(c));
  }
  return m;
}

bool IsTextual(const CqlType& t) {
  return t.id == CqlType::kVarchar || t.id == CqlType::kAscii || t.id == CqlType::kBlob;
}

Error WrongType(const char* wanted) {
  return MakeError(ErrorCode::kInvalidArgument, std::string("cql: column is not ") + wanted);
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string EncodeFrame(int16_t stream, Opcode op, std::string_view body) {
  std::string out;
  out.reserve(kFrameHeaderSize + body.size());
  out.push_back(static_cast<char>(kProtocolVersion));
  out.push_back(0);  // flags
  PutBE(out, static_cast<uint16_t>(stream), 2);
  out.push_back(static_cast<char>(op));
  PutBE(out, body.size(), 4);
  out.append(body);
  return out;
}

Result<FrameHeader> DecodeHeader(std::span<const uint8_t, kFrameHeaderSize> b) {
  FrameHeader h;
  h.version = b[0];
  h.flags = b[1];
  h.stream = static_cast<int16_t>((b[2] << 8) | b[3]);
  h.opcode = static_cast<Opcode>(b[4]);
  h.length = (uint32_t{b[5]} << 24) | (uint32_t{b[6]} << 16) | (uint32_t{b[7]} << 8) | b[8];
  if (h.version != (0x80 | kProtocolVersion))
    return MakeError(ErrorCode::kUnavailable,
                     "cql: the server does not speak protocol v4 (frame version " +
                         std::to_string(h.version) + ")");
  if (h.flags & 0x01) return Malformed("frame (compressed, never requested)");
  if (h.length > kMaxFrameBody) return Malformed("frame (body of " + std::to_string(h.length) + " bytes)");
  return h;
}

BodyWriter& BodyWriter::Byte(uint8_t v) { out_.push_back(static_cast<char>(v)); return *this; }
BodyWriter& BodyWriter::Short(uint16_t v) { PutBE(out_, v, 2); return *this; }
BodyWriter& BodyWriter::Int(int32_t v) { PutBE(out_, static_cast<uint32_t>(v), 4); return *this; }
BodyWriter& BodyWriter::String(std::string_view s) {
  Short(static_cast<uint16_t>(s.size()));
  out_.append(s);
  return *this;
}
BodyWriter& BodyWriter::LongString(std::string_view s) {
  Int(static_cast<int32_t>(s.size()));
  out_.append(s);
  return *this;
}
BodyWriter& BodyWriter::ShortBytes(std::string_view b) { return String(b); }
BodyWriter& BodyWriter::Bytes(std::string_view b) { return LongString(b); }
BodyWriter& BodyWriter::NullBytes() { return Int(-1); }
BodyWriter& BodyWriter::StringMap(const std::vector<std::pair<std::string, std::string>>& m) {
  Short(static_cast<uint16_t>(m.size()));
  for (const auto& [k, v] : m) String(k).String(v);
  return *this;
}

Result<std::string_view> BodyReader::Take(size_t n) {
  if (n > rest_.size()) {
    rest_ = {};
    return Malformed("body (truncated)");
  }
  auto out = rest_.substr(0, n);
  rest_.remove_prefix(n);
  return out;
}

Result<uint8_t> BodyReader::Byte() {
  auto b = Take(1);
  if (!b.ok()) return b.error();
  return static_cast<uint8_t>((*b)[0]);
}
Result<uint16_t> BodyReader::Short() {
  auto b = Take(2);
  if (!b.ok()) return b.error();
  return static_cast<uint16_t>(GetBE(*b));
}
Result<int32_t> BodyReader::Int() {
  auto b = Take(4);
  if (!b.ok()) return b.error();
  return static_cast<int32_t>(static_cast<uint32_t>(GetBE(*b)));
}
Result<int64_t> BodyReader::Long() {
  auto b = Take(8);
  if (!b.ok()) return b.error();
  return static_cast<int64_t>(GetBE(*b));
}
Result<std::string> BodyReader::String() {
  auto n = Short();
  if (!n.ok()) return n.error();
  auto b = Take(*n);
  if (!b.ok()) return b.error();
  return std::string(*b);
}
Result<std::string> BodyReader::LongString() {
  auto n = Int();
  if (!n.ok()) return n.error();
  if (*n < 0) return Malformed("long string (negative length)");
  auto b = Take(static_cast<size_t>(*n));
  if (!b.ok()) return b.error();
  return std::string(*b);
}
Result<std::string> BodyReader::ShortBytes() { return String(); }
Result<std::optional<std::string>> BodyReader::Bytes() {
  auto n = Int();
  if (!n.ok()) return n.error();
  if (*n < 0) return std::optional<std::string>();
  auto b = Take(static_cast<size_t>(*n));
  if (!b.ok()) return b.error();
  return std::optional<std::string>(std::string(*b));
}

Result<ResultBody> DecodeResult(std::string_view body) {
  BodyReader r(body);
  ResultBody out;
  auto kind = r.Int();
  if (!kind.ok()) return kind.error();
  out.kind = *kind;
  switch (out.kind) {
    case 1:  // Void
    case 3:  // Set_keyspace
    case 5:  // Schema_change
      return out;
    case 2: {  // Rows
      auto m = ReadMetadata(r, false);
      if (!m.ok()) return m.error();
      out.metadata = std::move(*m);
      auto n = r.Int();
      if (!n.ok()) return n.error();
      const size_t cols = out.metadata.columns.size();
      // Each cell takes at least 4 bytes: a count the body cannot hold is a lie.
      if (*n < 0 || (cols > 0 && static_cast<size_t>(*n) > r.remaining() / (4 * cols)))
        return Malformed("row count");
      if (cols == 0 && *n > 0) return Malformed("rows without column metadata");
      out.rows.reserve(*n);
      for (int i = 0; i < *n; ++i) {
        std::vector<std::optional<std::string>> row;
        row.reserve(cols);
        for (size_t c = 0; c < cols; ++c) {
          auto cell = r.Bytes();
          if (!cell.ok()) return cell.error();
          row.push_back(std::move(*cell));
        }
        out.rows.push_back(std::move(row));
      }
      return out;
    }
    case 4: {  // Prepared
      auto id = r.ShortBytes();
      if (!id.ok()) return id.error();
      out.prepared_id = std::move(*id);
      auto bind = ReadMetadata(r, true);
      if (!bind.ok()) return bind.error();
      out.bind_columns = std::move(bind->columns);
      auto res = ReadMetadata(r, false);
      if (!res.ok()) return res.error();
      out.result_metadata = std::move(*res);
      return out;
    }
    default:
      return Malformed("result kind " + std::to_string(out.kind));
  }
}

Error DecodeError(std::string_view body, int32_t* code_out) {
  BodyReader r(body);
  auto code = r.Int();
  auto msg = code.ok() ? r.String() : Result<std::string>(code.error());
  if (!msg.ok()) return Malformed("error response");
  if (code_out) *code_out = *code;
  std::string text = "cql: " + *msg;
  if (text.size() > 300) text.resize(300);
  switch (*code) {
    case 0x0100: return MakeError(ErrorCode::kUnauthenticated, text);
    case 0x2100: return MakeError(ErrorCode::kForbidden, text);
    case 0x2000:
    case 0x2200:
    case 0x2300: return MakeError(ErrorCode::kInvalidArgument, text);
    case 0x2400: return MakeError(ErrorCode::kConflict, text);
    case 0x000A: return MakeError(ErrorCode::kInternal, text);  // protocol error: our bug
    default: return MakeError(ErrorCode::kUnavailable, text);   // may pass: retry later
  }
}

CqlValue CqlNull() { return {}; }
CqlValue CqlText(std::string_view s) { return {std::string(s)}; }
CqlValue CqlBlob(std::string_view b) { return {std::string(b)}; }
CqlValue CqlBigint(int64_t v) {
  std::string b;
  PutBE(b, static_cast<uint64_t>(v), 8);
  return {std::move(b)};
}
CqlValue CqlTimestamp(int64_t ms) { return CqlBigint(ms); }
CqlValue CqlInt(int32_t v) {
  std::string b;
  PutBE(b, static_cast<uint32_t>(v), 4);
  return {std::move(b)};
}
CqlValue CqlBool(bool v) { return {std::string(1, v ? '\1' : '\0')}; }

Result<CqlValue> CqlUuid(std::string_view s) {
  if (s.size() != 36) return MakeError(ErrorCode::kInvalidArgument, "cql: not a uuid");
  std::string b;
  for (size_t i = 0; i < s.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return MakeError(ErrorCode::kInvalidArgument, "cql: not a uuid");
      ++i;
      continue;
    }
    int hi = HexDigit(s[i]), lo = HexDigit(s[i + 1]);
    if (hi < 0 || lo < 0) return MakeError(ErrorCode::kInvalidArgument, "cql: not a uuid");
    b.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return CqlValue{std::move(b)};
}

CqlValue CqlTextList(const std::vector<std::string>& items) {
  std::string b;
  PutBE(b, items.size(), 4);
  for (const auto& s : items) {
    PutBE(b, s.size(), 4);
    b += s;
  }
  return {std::move(b)};
}

Result<std::string> DecodeText(const CqlType& t, std::string_view bytes) {
  if (!IsTextual(t)) return WrongType("text");
  return std::string(bytes);
}

Result<int64_t> DecodeBigint(const CqlType& t, std::string_view bytes) {
  switch (t.id) {
    case CqlType::kBigint:
    case CqlType::kCounter:
    case CqlType::kTimestamp:
      if (bytes.size() != 8) return Malformed("bigint");
      return static_cast<int64_t>(GetBE(bytes));
    case CqlType::kInt:
      if (bytes.size() != 4) return Malformed("int");
      return static_cast<int64_t>(static_cast<int32_t>(static_cast<uint32_t>(GetBE(bytes))));
    default:
      return WrongType("an integer");
  }
}

Result<bool> DecodeBool(const CqlType& t, std::string_view bytes) {
  if (t.id != CqlType::kBoolean) return WrongType("boolean");
  if (bytes.size() != 1) return Malformed("boolean");
  return bytes[0] != 0;
}

Result<std::string> DecodeUuid(const CqlType& t, std::string_view bytes) {
  if (t.id != CqlType::kUuid && t.id != CqlType::kTimeuuid) return WrongType("a uuid");
  if (bytes.size() != 16) return Malformed("uuid");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    auto c = static_cast<unsigned char>(bytes[i]);
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

Result<std::vector<std::string>> DecodeTextList(const CqlType& t, std::string_view bytes) {
  if ((t.id != CqlType::kList && t.id != CqlType::kSet) || t.params.size() != 1 ||
      !IsTextual(t.params[0]))
    return WrongType("a list of text");
  BodyReader r(bytes);
  auto n = r.Int();
  if (!n.ok()) return n.error();
  if (*n < 0 || static_cast<size_t>(*n) > r.remaining() / 4) return Malformed("list length");
  std::vector<std::string> out;
  out.reserve(*n);
  for (int i = 0; i < *n; ++i) {
    auto item = r.Bytes();
    if (!item.ok()) return item.error();
    if (!item->has_value()) return Malformed("list (null element)");
    out.push_back(std::move(**item));
  }
  if (r.remaining() != 0) return Malformed("list (trailing bytes)");
  return out;
}

}  // namespace parley::storage::cassandra
