#include "sdk/e2ee/records.h"

#include <charconv>
#include <cstdio>

#include "sdk/crypto/wire.h"

namespace parley::sdk::e2ee {

using crypto::ByteReader;
using crypto::ByteWriter;

namespace {
constexpr uint8_t kVersion = 1;
Error Corrupt(const char* what) {
  return MakeError(ErrorCode::kInternal, std::string("e2ee state corrupt: ") + what);
}
}  // namespace

std::string KeyIdName(uint64_t id) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(id));
  return buf;
}

std::optional<uint64_t> ParseKeyIdName(std::string_view name) {
  uint64_t id = 0;
  if (name.size() != 20) return std::nullopt;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
  if (ec != std::errc() || end != name.data() + name.size()) return std::nullopt;
  return id;
}

std::string EncodeMeta(const MetaRecord& m) {
  ByteWriter w;
  w.U8(kVersion);
  w.Raw(m.identity_seed);
  w.U64(m.next_one_time_prekey_id);
  w.U64(m.next_signed_prekey_id);
  w.U64(m.published_otk_below);
  w.U8(m.published ? 1 : 0);
  return w.Take();
}

Result<MetaRecord> DecodeMeta(std::string_view b) {
  ByteReader r(b);
  MetaRecord m;
  if (r.U8() != kVersion) return Corrupt("meta version");
  m.identity_seed = r.Raw(32);
  m.next_one_time_prekey_id = r.U64();
  m.next_signed_prekey_id = r.U64();
  m.published_otk_below = r.U64();
  m.published = r.U8() == 1;
  if (!r.AtEnd()) return Corrupt("meta");
  return m;
}

std::string EncodeSignedPrekey(const SignedPrekeyRecord& s) {
  ByteWriter w;
  w.U8(kVersion);
  w.Raw(s.private_key);
  w.Raw(s.public_key);
  w.Raw(s.signature);
  w.U64(static_cast<uint64_t>(s.created_at));
  w.U64(static_cast<uint64_t>(s.retired_at));
  return w.Take();
}

Result<SignedPrekeyRecord> DecodeSignedPrekey(std::string_view b) {
  ByteReader r(b);
  SignedPrekeyRecord s;
  if (r.U8() != kVersion) return Corrupt("spk version");
  s.private_key = r.Raw(32);
  s.public_key = r.Raw(32);
  s.signature = r.Raw(64);
  s.created_at = static_cast<int64_t>(r.U64());
  s.retired_at = static_cast<int64_t>(r.U64());
  if (!r.AtEnd()) return Corrupt("spk");
  return s;
}

std::string EncodeSessions(const std::vector<Session>& list) {
  ByteWriter w;
  w.U8(kVersion);
  w.U8(static_cast<uint8_t>(list.size()));
  for (const auto& s : list) {
    w.Raw(s.peer_signing_key);
    w.Raw(s.base_key);
    w.U8(s.pending_prekey ? 1 : 0);
    w.U64(s.signed_prekey_id);
    w.U8(s.one_time_prekey_id ? 1 : 0);
    w.U64(s.one_time_prekey_id.value_or(0));
    w.Str32(crypto::SerializeRatchet(s.ratchet));
  }
  return w.Take();
}

Result<std::vector<Session>> DecodeSessions(std::string_view b) {
  ByteReader r(b);
  if (r.U8() != kVersion) return Corrupt("session version");
  uint8_t n = r.U8();
  if (n > kMaxSessionsPerDevice) return Corrupt("session count");
  std::vector<Session> out;
  for (uint8_t i = 0; i < n && r.ok(); ++i) {
    Session s;
    s.peer_signing_key = r.Raw(32);
    s.base_key = r.Raw(32);
    s.pending_prekey = r.U8() == 1;
    s.signed_prekey_id = r.U64();
    bool has_otk = r.U8() == 1;
    uint64_t otk = r.U64();
    if (has_otk) s.one_time_prekey_id = otk;
    std::string ratchet = r.Str32(1 << 20);
    if (!r.ok()) break;
    auto rs = crypto::ParseRatchet(ratchet);
    if (!rs.ok()) return Corrupt("ratchet");
    s.ratchet = std::move(*rs);
    out.push_back(std::move(s));
  }
  if (!r.AtEnd()) return Corrupt("session");
  return out;
}

std::string EncodeOwnChain(const OwnChainRecord& c) {
  ByteWriter w;
  w.U8(kVersion);
  w.Str32(crypto::SerializeSenderChain(c.chain));
  w.U32(static_cast<uint32_t>(c.recipients.size()));
  for (const auto& [user, device, key] : c.recipients) {
    w.Str16(user);
    w.Str16(device);
    w.Str16(key);
  }
  return w.Take();
}

Result<OwnChainRecord> DecodeOwnChain(std::string_view b) {
  ByteReader r(b);
  if (r.U8() != kVersion) return Corrupt("chain version");
  OwnChainRecord c;
  auto chain = crypto::ParseSenderChain(r.Str32(4096));
  if (!r.ok() || !chain.ok()) return Corrupt("chain");
  c.chain = std::move(*chain);
  uint32_t n = r.U32();
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    std::string user = r.Str16(crypto::kMaxIdBytes);
    std::string device = r.Str16(crypto::kMaxIdBytes);
    std::string key = r.Str16(crypto::kKeyBytes);
    c.recipients.emplace(std::move(user), std::move(device), std::move(key));
  }
  if (!r.AtEnd()) return Corrupt("chain recipients");
  return c;
}

std::string EncodeChainIndex(const std::vector<std::string>& ids) {
  ByteWriter w;
  w.U8(kVersion);
  w.U8(static_cast<uint8_t>(ids.size()));
  for (const auto& id : ids) w.Raw(id);
  return w.Take();
}

Result<std::vector<std::string>> DecodeChainIndex(std::string_view b) {
  ByteReader r(b);
  if (r.U8() != kVersion) return Corrupt("chain index version");
  uint8_t n = r.U8();
  if (n > kMaxChainsPerSenderDevice) return Corrupt("chain index count");
  std::vector<std::string> ids;
  for (uint8_t i = 0; i < n && r.ok(); ++i) ids.push_back(r.Raw(crypto::kChainIdBytes));
  if (!r.AtEnd()) return Corrupt("chain index");
  return ids;
}

std::string EncodeSearchKey(const SearchKeyRecord& s) {
  ByteWriter w;
  w.U8(kVersion);
  w.U8(s.enabled ? 1 : 0);
  w.U32(s.epoch);
  w.Str16(s.key);
  return w.Take();
}

Result<SearchKeyRecord> DecodeSearchKey(std::string_view b) {
  ByteReader r(b);
  if (r.U8() != kVersion) return Corrupt("search key version");
  SearchKeyRecord s;
  s.enabled = r.U8() == 1;
  s.epoch = r.U32();
  s.key = r.Str16(32);
  if (!r.AtEnd()) return Corrupt("search key");
  return s;
}

}  // namespace parley::sdk::e2ee
