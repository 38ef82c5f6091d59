#include "sdk/e2ee/engine.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "common/encoding.h"
#include "common/ids.h"
#include "common/log.h"
#include "sdk/crypto/safety_number.h"
#include "sdk/crypto/search_token.h"
#include "sdk/crypto/sender_key.h"
#include "sdk/crypto/x3dh.h"
#include "sdk/e2ee/envelope.h"

namespace parley::sdk::e2ee {

using crypto::Base64Decode;
using crypto::Base64Encode;

namespace {

constexpr char kSelf[] = "self";
constexpr size_t kMaxPublishBatch = 200;  // the server's per-upload limit
constexpr size_t kMaxBodyBase64 = 64 * 1024;
constexpr size_t kMaxToDeviceBase64 = (kMaxEnvelopeBytes + 2) / 3 * 4;

Error Invalid(std::string m) { return MakeError(ErrorCode::kInvalidArgument, std::move(m)); }

bool ValidId(std::string_view id) {
  return !id.empty() && id.size() <= crypto::kMaxIdBytes && id.find('\n') == std::string::npos;
}
std::string Join(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto p : parts) {
    if (!out.empty()) out.push_back('\n');
    out.append(p);
  }
  return out;
}
StateStore::Write Put(const char* kind, std::string id, std::string value) {
  return StateStore::Write{kind, std::move(id), std::move(value)};
}
StateStore::Write Erase(const char* kind, std::string id) {
  return StateStore::Write{kind, std::move(id), std::nullopt};
}

std::string EncodeOneTimePrekey(const crypto::KeyPair& kp) {
  return std::string(1, '\x01') + kp.private_key + kp.public_key;
}
Result<crypto::KeyPair> DecodeOneTimePrekey(std::string_view b) {
  if (b.size() != 65 || b[0] != '\x01') return MakeError(ErrorCode::kInternal, "otk corrupt");
  return crypto::KeyPair{std::string(b.substr(33, 32)), std::string(b.substr(1, 32))};
}

std::optional<std::string> DecodeKey(const std::string& b64, size_t len) {
  auto k = Base64Decode(b64);
  if (!k || k->size() != len) return std::nullopt;
  return k;
}

Result<crypto::Bundle> DecodeBundle(const PrekeyBundle& b) {
  crypto::Bundle out;
  auto sk = DecodeKey(b.signing_key, 32), ik = DecodeKey(b.identity_key, 32),
       spk = DecodeKey(b.signed_prekey, 32), sig = DecodeKey(b.signed_prekey_signature, 64);
  if (!sk || !ik || !spk || !sig || b.signed_prekey_id < 0) return Invalid("malformed bundle");
  out.signing_key = *sk;
  out.identity_key = *ik;
  out.signed_prekey_id = static_cast<uint64_t>(b.signed_prekey_id);
  out.signed_prekey = *spk;
  out.signed_prekey_signature = *sig;
  if (b.one_time_prekey_id && !b.one_time_prekey.empty()) {
    auto otk = DecodeKey(b.one_time_prekey, 32);
    if (!otk || *b.one_time_prekey_id < 0) return Invalid("malformed bundle");
    out.one_time_prekey_id = static_cast<uint64_t>(*b.one_time_prekey_id);
    out.one_time_prekey = *otk;
  }
  return out;
}

// Ranks decrypt errors so that trying several sessions reports the most telling one.
int Rank(ErrorCode c) {
  switch (c) {
    case ErrorCode::kConflict: return 3;
    case ErrorCode::kForbidden: return 2;
    case ErrorCode::kInvalidArgument: return 1;
    default: return 0;
  }
}

}  // namespace

Engine::Engine(StateStore& store, KeyDirectory& directory, ConversationMembers& members,
               std::string user_id, std::string device_id, EngineOptions options)
    : store_(store),
      directory_(directory),
      members_(members),
      user_id_(std::move(user_id)),
      device_id_(std::move(device_id)),
      options_(std::move(options)) {
  if (!options_.now_s) {
    options_.now_s = [] {
      return static_cast<int64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
    };
  }
}

Result<MetaRecord> Engine::LoadMeta() {
  auto raw = store_.Get(kKindMeta, kSelf);
  if (!raw.ok()) return raw.error();
  if (!raw->has_value()) return MakeError(ErrorCode::kInternal, "e2ee: call Bootstrap first");
  return DecodeMeta(**raw);
}

Result<std::string> Engine::SigningKey() {
  auto meta = LoadMeta();
  if (!meta.ok()) return meta.error();
  return Base64Encode(crypto::IdentityFromSeed(meta->identity_seed).signing_key);
}

Result<Unit> Engine::PublishKeys(const MetaRecord& meta,
                                 std::vector<std::pair<uint64_t, std::string>> otks) {
  auto spks = store_.List(kKindSignedPrekey);
  if (!spks.ok()) return spks.error();
  std::optional<std::pair<uint64_t, SignedPrekeyRecord>> current;
  for (const auto& [id, raw] : *spks) {
    auto rec = DecodeSignedPrekey(raw);
    if (!rec.ok()) return rec.error();
    auto key_id = ParseKeyIdName(id);
    if (!key_id) return MakeError(ErrorCode::kInternal, "e2ee state corrupt: signed prekey id");
    if (rec->retired_at == 0) current.emplace(*key_id, std::move(*rec));
  }
  if (!current) return MakeError(ErrorCode::kInternal, "e2ee: no current signed prekey");
  crypto::Identity identity = crypto::IdentityFromSeed(meta.identity_seed);
  size_t i = 0;
  do {
    PublishedKeys keys;
    keys.identity_key = Base64Encode(identity.identity_key);
    keys.signing_key = Base64Encode(identity.signing_key);
    keys.signed_prekey_id = static_cast<int64_t>(current->first);
    keys.signed_prekey = Base64Encode(current->second.public_key);
    keys.signed_prekey_signature = Base64Encode(current->second.signature);
    for (; i < otks.size() && keys.one_time_prekeys.size() < kMaxPublishBatch; ++i) {
      keys.one_time_prekeys.emplace_back(static_cast<int64_t>(otks[i].first),
                                         Base64Encode(otks[i].second));
    }
    PARLEY_TRY(directory_.Publish(keys));
  } while (i < otks.size());
  return Unit{};
}

Result<Unit> Engine::Bootstrap() {
  auto raw = store_.Get(kKindMeta, kSelf);
  if (!raw.ok()) return raw.error();
  const int64_t now = options_.now_s();
  Writes writes;
  MetaRecord meta;
  auto new_signed_prekey = [&](MetaRecord& m) {
    crypto::KeyPair kp = crypto::GenerateX25519(options_.random);
    SignedPrekeyRecord rec{kp.private_key, kp.public_key,
                           crypto::SignPrekey(m.identity_seed, kp.public_key), now, 0};
    writes.push_back(Put(kKindSignedPrekey, KeyIdName(m.next_signed_prekey_id++),
                         EncodeSignedPrekey(rec)));
    m.published = false;
  };
  auto new_one_time_prekeys = [&](MetaRecord& m, int n) {
    for (int i = 0; i < n; ++i) {
      crypto::KeyPair kp = crypto::GenerateX25519(options_.random);
      writes.push_back(Put(kKindOneTimePrekey, KeyIdName(m.next_one_time_prekey_id++),
                           EncodeOneTimePrekey(kp)));
    }
  };
  if (!raw->has_value()) {
    meta.identity_seed = options_.random(32);
    new_signed_prekey(meta);
    new_one_time_prekeys(meta, options_.initial_one_time_prekeys);
  } else {
    auto m = DecodeMeta(**raw);
    if (!m.ok()) return m.error();
    meta = std::move(*m);
    if (meta.published && meta.published_otk_below == meta.next_one_time_prekey_id) {
      auto count = directory_.CountOneTimePrekeys();
      if (!count.ok()) return count.error();
      if (*count < options_.min_one_time_prekeys) {
        new_one_time_prekeys(meta, options_.initial_one_time_prekeys - static_cast<int>(*count));
      }
    }
    auto spks = store_.List(kKindSignedPrekey);
    if (!spks.ok()) return spks.error();
    for (const auto& [id, value] : *spks) {
      auto rec = DecodeSignedPrekey(value);
      if (!rec.ok()) return rec.error();
      if (rec->retired_at == 0 && rec->created_at + options_.signed_prekey_rotation_s <= now) {
        rec->retired_at = now;
        writes.push_back(Put(kKindSignedPrekey, id, EncodeSignedPrekey(*rec)));
        new_signed_prekey(meta);
      } else if (rec->retired_at != 0 &&
                 rec->retired_at + options_.old_signed_prekey_keep_s <= now) {
        writes.push_back(Erase(kKindSignedPrekey, id));
      }
    }
  }
  bool must_publish = !meta.published || meta.published_otk_below != meta.next_one_time_prekey_id;
  if (writes.empty() && !must_publish) return Unit{};
  writes.push_back(Put(kKindMeta, kSelf, EncodeMeta(meta)));
  PARLEY_TRY(store_.Commit(writes));
  if (!must_publish) return Unit{};

  std::vector<std::pair<uint64_t, std::string>> otks;
  auto stored = store_.List(kKindOneTimePrekey);
  if (!stored.ok()) return stored.error();
  for (const auto& [id, value] : *stored) {
    auto parsed = ParseKeyIdName(id);
    if (!parsed) return MakeError(ErrorCode::kInternal, "e2ee state corrupt: one-time prekey id");
    uint64_t key_id = *parsed;
    if (key_id < meta.published_otk_below) continue;
    auto kp = DecodeOneTimePrekey(value);
    if (!kp.ok()) return kp.error();
    otks.emplace_back(key_id, kp->public_key);
  }
  PARLEY_TRY(PublishKeys(meta, std::move(otks)));
  meta.published = true;
  meta.published_otk_below = meta.next_one_time_prekey_id;
  return store_.Commit({Put(kKindMeta, kSelf, EncodeMeta(meta))});
}

Result<std::vector<Engine::Device>> Engine::MemberDevices(const std::vector<std::string>& users) {
  std::vector<Device> out;
  for (const auto& user : users) {
    auto listed = directory_.ListDevices(user);
    if (!listed.ok()) return listed.error();
    for (auto& b : *listed) {
      if (user == user_id_ && b.device_id == device_id_) continue;
      if (!ValidId(b.device_id)) continue;
      // Only devices whose listed keys check out can receive the sender key.
      auto decoded = DecodeBundle(b);
      if (!decoded.ok() || !crypto::CheckBundle(*decoded).ok()) continue;
      out.push_back(Device{user, b.device_id, std::move(b)});
    }
  }
  return out;
}

Result<Unit> Engine::ObserveSigningKey(const std::string& user, const std::string& device,
                                       const std::string& signing_key, Writes& writes,
                                       bool& changed) {
  changed = false;
  std::string id = Join({user, device});
  auto known = store_.Get(kKindPeerIdentity, id);
  if (!known.ok()) return known.error();
  if (known->has_value() && **known == signing_key) return Unit{};
  if (known->has_value()) {
    changed = true;
    key_changes_.push_back(
        KeyChange{user, device, Base64Encode(**known), Base64Encode(signing_key)});
  }
  writes.push_back(Put(kKindPeerIdentity, id, signing_key));
  return Unit{};
}

Result<std::vector<Session>> Engine::LoadSessions(const std::string& user,
                                                   const std::string& device) {
  auto raw = store_.Get(kKindSession, Join({user, device}));
  if (!raw.ok()) return raw.error();
  if (!raw->has_value()) return std::vector<Session>{};
  return DecodeSessions(**raw);
}

Result<Session> Engine::StartSession(const MetaRecord& meta, const Device& device) {
  auto claimed = directory_.ClaimBundle(device.user_id, device.device_id);
  if (!claimed.ok()) return claimed.error();
  auto bundle = DecodeBundle(*claimed);
  if (!bundle.ok()) return bundle.error();
  if (claimed->signing_key != device.bundle.signing_key) {
    return MakeError(ErrorCode::kForbidden, "e2ee: claimed bundle has another signing key");
  }
  crypto::Identity me = crypto::IdentityFromSeed(meta.identity_seed);
  crypto::KeyPair ephemeral = crypto::GenerateX25519(options_.random);
  auto x3dh = crypto::X3dhInitiate(me, *bundle, ephemeral);
  if (!x3dh.ok()) return x3dh.error();
  auto ratchet = crypto::RatchetInitAlice(x3dh->shared_secret, bundle->signed_prekey,
                                          options_.random, x3dh->associated_data);
  crypto::Wipe(x3dh->shared_secret);
  if (!ratchet.ok()) return ratchet.error();
  Session s;
  s.peer_signing_key = bundle->signing_key;
  s.base_key = ephemeral.public_key;
  s.pending_prekey = true;
  s.signed_prekey_id = bundle->signed_prekey_id;
  s.one_time_prekey_id = bundle->one_time_prekey_id;
  s.ratchet = std::move(*ratchet);
  return s;
}

Result<std::string> Engine::SealToDevice(Session& session, std::string_view payload) {
  auto enc = crypto::RatchetEncrypt(session.ratchet, payload);
  if (!enc.ok()) return enc.error();
  session.ratchet = std::move(enc->state);
  Envelope env;
  if (session.pending_prekey) {
    auto meta = LoadMeta();
    if (!meta.ok()) return meta.error();
    env.prekey = PrekeyFields{crypto::IdentityFromSeed(meta->identity_seed).signing_key,
                              session.base_key, session.signed_prekey_id,
                              session.one_time_prekey_id};
  }
  env.header = std::move(enc->header);
  env.ciphertext = std::move(enc->ciphertext);
  return Base64Encode(EncodeEnvelope(env));
}

Result<SearchKeyRecord> Engine::LoadSearchKey(const std::string& conversation_id) {
  auto raw = store_.Get(kKindSearchKey, conversation_id);
  if (!raw.ok()) return raw.error();
  if (!raw->has_value()) return SearchKeyRecord{};
  return DecodeSearchKey(**raw);
}

Result<std::string> Engine::EncryptMessage(const std::string& conversation_id,
                                           const std::vector<std::string>& member_user_ids,
                                           std::string_view plaintext) {
  if (!ValidId(conversation_id)) return Invalid("e2ee: bad conversation id");
  for (const auto& u : member_user_ids) {
    if (!ValidId(u)) return Invalid("e2ee: bad user id");
  }
  // The body is the base64 of the message: 1 + 16 + 4 + pt + 16 + 64 bytes.
  if ((plaintext.size() + 101 + 2) / 3 * 4 > kMaxBodyBase64) {
    return MakeError(ErrorCode::kPayloadTooLarge, "e2ee: message too large");
  }
  auto meta = LoadMeta();
  if (!meta.ok()) return meta.error();
  std::vector<std::string> users = member_user_ids;
  users.push_back(user_id_);
  std::sort(users.begin(), users.end());
  users.erase(std::unique(users.begin(), users.end()), users.end());
  auto devices = MemberDevices(users);
  if (!devices.ok()) return devices.error();

  Writes writes;
  std::set<Holder> current;
  std::set<std::pair<std::string, std::string>> changed_devices;
  for (const auto& d : *devices) {
    bool changed = false;
    std::string signing_key = *Base64Decode(d.bundle.signing_key);
    PARLEY_TRY(ObserveSigningKey(d.user_id, d.device_id, signing_key, writes, changed));
    if (changed) changed_devices.emplace(d.user_id, d.device_id);
    current.emplace(d.user_id, d.device_id, signing_key);
  }

  auto raw_chain = store_.Get(kKindSenderChain, conversation_id);
  if (!raw_chain.ok()) return raw_chain.error();
  std::optional<OwnChainRecord> chain;
  if (raw_chain->has_value()) {
    auto c = DecodeOwnChain(**raw_chain);
    if (!c.ok()) return c.error();
    chain = std::move(*c);
  }
  // Rotate when a holder left (member removed, device revoked) or changed its identity key.
  bool rotate = !chain.has_value() || chain->chain.iteration == UINT32_MAX;
  if (chain) {
    for (const auto& r : chain->recipients) {
      if (!current.count(r)) rotate = true;
    }
  }
  auto search = LoadSearchKey(conversation_id);
  if (!search.ok()) return search.error();
  if (rotate) {
    if (chain.has_value() && !search->key.empty()) {  // the search key leaves with the member
      // At the last epoch there is no next one: the key is dropped (search tokens stop here)
      // rather than kept by the member who left or wrapped to an epoch everyone refuses.
      if (search->epoch >= kMaxSearchEpoch) {
        search->key.clear();
      } else {
        search->key = options_.random(32);
        ++search->epoch;
      }
      writes.push_back(Put(kKindSearchKey, conversation_id, EncodeSearchKey(*search)));
    }
    chain = OwnChainRecord{crypto::NewSenderChain(options_.random), {}};
  }

  crypto::SenderKeyDistribution dist{conversation_id,        chain->chain.chain_id,
                                     chain->chain.iteration, chain->chain.chain_key,
                                     chain->chain.signing_public, std::nullopt};
  if (!search->key.empty()) dist.search_key.emplace(search->epoch, search->key);
  std::string payload = crypto::EncodeDistribution(dist);
  crypto::Wipe(dist.chain_key);

  std::map<std::string, std::map<std::string, std::string>> to_send;
  std::vector<Holder> newly;
  for (const auto& d : *devices) {
    Holder holder{d.user_id, d.device_id, *Base64Decode(d.bundle.signing_key)};
    if (chain->recipients.count(holder)) continue;
    std::vector<Session> sessions;
    if (!changed_devices.count({d.user_id, d.device_id})) {
      auto loaded = LoadSessions(d.user_id, d.device_id);
      if (!loaded.ok()) return loaded.error();
      sessions = std::move(*loaded);
      // A session with an earlier identity of the device is useless now.
      if (!sessions.empty() && sessions.front().peer_signing_key != std::get<2>(holder)) {
        sessions.clear();
      }
    }
    if (sessions.empty()) {
      auto started = StartSession(*meta, d);
      if (!started.ok()) {
        ErrorCode c = started.error().code;
        // A device without a usable bundle is skipped; a directory outage is an error.
        if (c == ErrorCode::kNotFound || c == ErrorCode::kForbidden ||
            c == ErrorCode::kInvalidArgument) {
          continue;
        }
        return started.error();
      }
      sessions.insert(sessions.begin(), std::move(*started));
    }
    auto sealed = SealToDevice(sessions.front(), payload);
    if (!sealed.ok()) return sealed.error();
    if (sessions.size() > kMaxSessionsPerDevice) sessions.resize(kMaxSessionsPerDevice);
    writes.push_back(Put(kKindSession, Join({d.user_id, d.device_id}), EncodeSessions(sessions)));
    to_send[d.user_id][d.device_id] = std::move(*sealed);
    newly.push_back(std::move(holder));
  }
  crypto::Wipe(payload);

  if (!to_send.empty()) {
    // Sessions advance before their ciphertext leaves, so no message key is ever used twice.
    writes.push_back(Put(kKindSenderChain, conversation_id, EncodeOwnChain(*chain)));
    PARLEY_TRY(store_.Commit(writes));
    writes.clear();
    PARLEY_TRY(directory_.SendToDevice(to_send));
  }
  auto enc = crypto::SenderKeyEncrypt(chain->chain,
                                      {conversation_id, user_id_, device_id_}, plaintext);
  if (!enc.ok()) return enc.error();
  chain->chain = std::move(enc->chain);
  chain->recipients.insert(newly.begin(), newly.end());
  writes.push_back(Put(kKindSenderChain, conversation_id, EncodeOwnChain(*chain)));
  PARLEY_TRY(store_.Commit(writes));
  return Base64Encode(enc->message);
}

Result<std::string> Engine::DecryptMessage(const std::string& conversation_id,
                                           const std::string& sender_user_id,
                                           const std::string& sender_device_id,
                                           std::string_view body) {
  if (!ValidId(conversation_id) || !ValidId(sender_user_id) || !ValidId(sender_device_id)) {
    return Invalid("e2ee: bad id");
  }
  if (body.size() > kMaxBodyBase64 * 2) return Invalid("e2ee: body too large");
  auto message = Base64Decode(body);
  if (!message) return Invalid("e2ee: body is not base64");
  auto header = crypto::ParseSenderKeyHeader(*message);
  if (!header.ok()) return header.error();
  std::string id = Join({conversation_id, sender_user_id, sender_device_id,
                         HexEncode(header->chain_id)});
  auto raw = store_.Get(kKindSenderReceiver, id);
  if (!raw.ok()) return raw.error();
  if (!raw->has_value()) return MakeError(ErrorCode::kNotFound, "e2ee: no sender key yet");
  auto receiver = crypto::ParseSenderReceiver(**raw);
  if (!receiver.ok()) return MakeError(ErrorCode::kInternal, "e2ee state corrupt: receiver");
  auto dec = crypto::SenderKeyDecrypt(std::move(*receiver),
                                      {conversation_id, sender_user_id, sender_device_id},
                                      *message);
  if (!dec.ok()) return dec.error();
  PARLEY_TRY(store_.Commit({Put(kKindSenderReceiver, id,
                                crypto::SerializeSenderReceiver(dec->receiver))}));
  return std::move(dec->plaintext);
}

Result<Unit> Engine::AuthorizeKeySender(const std::string& conversation_id,
                                        const std::string& sender_user,
                                        const std::string& sender_device,
                                        const std::string& session_signing_key) {
  auto refuse = [&](std::string_view reason) -> Error {
    LogWarn("e2ee: key material refused", {{"conversation_id", conversation_id},
                                           {"sender_user_id", sender_user},
                                           {"sender_device_id", sender_device},
                                           {"reason", reason}});
    return MakeError(ErrorCode::kForbidden,
                     "e2ee: key material refused: " + std::string(reason));
  };
  if (sender_user != user_id_ && conversation_id != DirectConversationId(user_id_, sender_user)) {
    auto members = members_.Members(conversation_id);
    if (!members.ok()) {
      ErrorCode c = members.error().code;
      if (c == ErrorCode::kNotFound || c == ErrorCode::kForbidden) {
        return refuse("not a conversation of this user");
      }
      return members.error();
    }
    auto has = [&](const std::string& u) {
      return std::find(members->begin(), members->end(), u) != members->end();
    };
    if (!has(user_id_)) return refuse("not a conversation of this user");
    if (!has(sender_user)) return refuse("the sender is not a member of the conversation");
  }
  auto listed = directory_.ListDevices(sender_user);
  if (!listed.ok()) {
    if (listed.error().code == ErrorCode::kNotFound) return refuse("the sender has no devices");
    return listed.error();
  }
  for (const auto& b : *listed) {
    if (b.device_id != sender_device) continue;
    auto key = DecodeKey(b.signing_key, 32);
    if (key && *key == session_signing_key) return Unit{};
    return refuse("the session's identity is not the device's listed key");
  }
  return refuse("the sender device is not listed for its user");
}

Result<Unit> Engine::ApplyPayload(const std::string& sender_user,
                                  const std::string& sender_device,
                                  const std::string& session_signing_key,
                                  std::string_view payload, Writes& writes) {
  auto dist = crypto::DecodeDistribution(payload);
  if (!dist.ok()) return dist.error();
  if (!ValidId(dist->conversation_id)) return Invalid("e2ee: bad conversation id");
  PARLEY_TRY(AuthorizeKeySender(dist->conversation_id, sender_user, sender_device,
                                session_signing_key));
  std::optional<SearchKeyRecord> search;
  if (dist->search_key) {  // checked before anything is written: all of the payload or none
    auto held = LoadSearchKey(dist->conversation_id);
    if (!held.ok()) return held.error();
    uint32_t epoch = dist->search_key->first;
    if (epoch > kMaxSearchEpoch ||
        static_cast<uint64_t>(epoch) > uint64_t{held->epoch} + kMaxSearchEpochStep) {
      LogWarn("e2ee: search key epoch refused", {{"conversation_id", dist->conversation_id},
                                                 {"sender_user_id", sender_user},
                                                 {"sender_device_id", sender_device},
                                                 {"epoch", epoch},
                                                 {"held_epoch", held->epoch}});
      return MakeError(ErrorCode::kForbidden, "e2ee: search key epoch out of bounds");
    }
    search = std::move(*held);
  }
  std::string owner = Join({dist->conversation_id, sender_user, sender_device});
  std::string id = owner + "\n" + HexEncode(dist->chain_id);
  auto existing = store_.Get(kKindSenderReceiver, id);
  if (!existing.ok()) return existing.error();
  if (!existing->has_value()) {  // a redistribution of a known chain changes nothing
    auto raw_index = store_.Get(kKindReceiverIndex, owner);
    if (!raw_index.ok()) return raw_index.error();
    std::vector<std::string> index;
    if (raw_index->has_value()) {
      auto decoded = DecodeChainIndex(**raw_index);
      if (!decoded.ok()) return decoded.error();
      index = std::move(*decoded);
    }
    index.push_back(dist->chain_id);
    if (index.size() > kMaxChainsPerSenderDevice) {
      writes.push_back(Erase(kKindSenderReceiver, owner + "\n" + HexEncode(index.front())));
      index.erase(index.begin());
    }
    writes.push_back(Put(kKindReceiverIndex, owner, EncodeChainIndex(index)));
    crypto::SenderReceiver r{dist->chain_id, dist->iteration, dist->chain_key,
                             dist->signing_public, {}};
    writes.push_back(Put(kKindSenderReceiver, id, crypto::SerializeSenderReceiver(r)));
  }
  if (search) {
    const auto& [epoch, key] = *dist->search_key;
    // Concurrent creations converge: the higher epoch wins, then the smaller SHA-256. An epoch
    // below the held one never wins, even when no key is held (one dropped at kMaxSearchEpoch).
    bool adopt = epoch > search->epoch ||
                 (epoch == search->epoch &&
                  (search->key.empty() || crypto::Sha256(key) < crypto::Sha256(search->key)));
    if (adopt && key != search->key) {
      search->key = key;
      search->epoch = epoch;
      writes.push_back(Put(kKindSearchKey, dist->conversation_id, EncodeSearchKey(*search)));
    }
  }
  return Unit{};
}

Result<Unit> Engine::HandleToDevice(const std::string& sender_user_id,
                                    const std::string& sender_device_id, std::string_view body) {
  if (!ValidId(sender_user_id) || !ValidId(sender_device_id)) return Invalid("e2ee: bad id");
  if (body.size() > kMaxToDeviceBase64) return Invalid("e2ee: to-device body too large");
  auto raw = Base64Decode(body);
  if (!raw) return Invalid("e2ee: to-device body is not base64");
  auto env = DecodeEnvelope(*raw);
  if (!env.ok()) return env.error();
  auto meta = LoadMeta();
  if (!meta.ok()) return meta.error();
  auto sessions = LoadSessions(sender_user_id, sender_device_id);
  if (!sessions.ok()) return sessions.error();

  Writes writes;
  std::optional<crypto::RatchetDecrypted> dec;
  std::optional<Error> best;
  auto consider = [&](const Error& e) {
    if (!best || Rank(e.code) > Rank(best->code)) best = e;
  };
  // Sessions to try, in order; a new one from a prekey message goes first.
  size_t used = 0;
  bool fresh = false;
  std::optional<size_t> only;
  if (env->prekey) {
    for (size_t i = 0; i < sessions->size(); ++i) {
      if ((*sessions)[i].base_key == env->prekey->ephemeral) only = i;
    }
    if (only && (*sessions)[*only].peer_signing_key != env->prekey->signing_key) {
      return MakeError(ErrorCode::kForbidden, "e2ee: prekey message from another identity");
    }
    if (!only) fresh = true;
  }
  if (fresh) {
    const PrekeyFields& p = *env->prekey;
    auto spk_raw = store_.Get(kKindSignedPrekey, KeyIdName(p.signed_prekey_id));
    if (!spk_raw.ok()) return spk_raw.error();
    if (!spk_raw->has_value()) return MakeError(ErrorCode::kNotFound, "e2ee: unknown signed prekey");
    auto spk = DecodeSignedPrekey(**spk_raw);
    if (!spk.ok()) return spk.error();
    std::string otk_private;
    if (p.one_time_prekey_id) {
      auto otk_raw = store_.Get(kKindOneTimePrekey, KeyIdName(*p.one_time_prekey_id));
      if (!otk_raw.ok()) return otk_raw.error();
      if (!otk_raw->has_value()) {
        return MakeError(ErrorCode::kNotFound, "e2ee: one-time prekey unknown or already used");
      }
      auto otk = DecodeOneTimePrekey(**otk_raw);
      if (!otk.ok()) return otk.error();
      otk_private = otk->private_key;
    }
    crypto::Identity me = crypto::IdentityFromSeed(meta->identity_seed);
    auto x3dh = crypto::X3dhRespond(me, spk->private_key, otk_private, p.signing_key,
                                    p.ephemeral);
    crypto::Wipe(otk_private);
    if (!x3dh.ok()) return x3dh.error();
    crypto::RatchetState initial = crypto::RatchetInitBob(
        x3dh->shared_secret, {spk->public_key, spk->private_key}, x3dh->associated_data);
    crypto::Wipe(x3dh->shared_secret);
    auto r = crypto::RatchetDecrypt(std::move(initial), env->header, env->ciphertext,
                                    options_.random);
    if (!r.ok()) return r.error();
    bool changed = false;
    PARLEY_TRY(ObserveSigningKey(sender_user_id, sender_device_id, p.signing_key, writes,
                                 changed));
    if (changed) sessions->clear();
    Session s;
    s.peer_signing_key = p.signing_key;
    s.base_key = p.ephemeral;
    s.signed_prekey_id = p.signed_prekey_id;
    s.one_time_prekey_id = p.one_time_prekey_id;
    sessions->insert(sessions->begin(), std::move(s));
    if (p.one_time_prekey_id) {
      writes.push_back(Erase(kKindOneTimePrekey, KeyIdName(*p.one_time_prekey_id)));
    }
    dec = std::move(*r);
    used = 0;
  } else {
    for (size_t i = 0; i < sessions->size() && !dec; ++i) {
      if (only && i != *only) continue;
      auto r = crypto::RatchetDecrypt((*sessions)[i].ratchet, env->header, env->ciphertext,
                                      options_.random);
      if (r.ok()) {
        dec = std::move(*r);
        used = i;
      } else {
        consider(r.error());
      }
    }
    if (!dec) {
      if (best) return *best;
      return MakeError(ErrorCode::kNotFound, "e2ee: no session with this device");
    }
  }
  Session s = std::move((*sessions)[used]);
  sessions->erase(sessions->begin() + static_cast<ptrdiff_t>(used));
  s.ratchet = std::move(dec->state);
  s.pending_prekey = false;  // the peer has answered on this session
  sessions->insert(sessions->begin(), std::move(s));
  if (sessions->size() > kMaxSessionsPerDevice) sessions->resize(kMaxSessionsPerDevice);
  auto applied = ApplyPayload(sender_user_id, sender_device_id,
                              sessions->front().peer_signing_key, dec->plaintext, writes);
  crypto::Wipe(dec->plaintext);  // it holds a chain key, refused or not
  if (!applied.ok()) return applied.error();
  writes.push_back(Put(kKindSession, Join({sender_user_id, sender_device_id}),
                       EncodeSessions(*sessions)));
  return store_.Commit(writes);
}

Result<std::string> Engine::SafetyNumber(const std::string& peer_user_id) {
  if (!ValidId(peer_user_id)) return Invalid("e2ee: bad user id");
  auto keys_of = [&](const std::string& user) -> Result<std::vector<std::string>> {
    auto listed = directory_.ListDevices(user);
    if (!listed.ok()) return listed.error();
    std::vector<std::string> keys;
    for (const auto& b : *listed) {
      if (auto k = DecodeKey(b.signing_key, 32)) keys.push_back(*k);
    }
    return keys;
  };
  auto mine = keys_of(user_id_);
  if (!mine.ok()) return mine.error();
  auto theirs = keys_of(peer_user_id);
  if (!theirs.ok()) return theirs.error();
  return crypto::SafetyNumber(*mine, user_id_, *theirs, peer_user_id);
}

std::vector<KeyChange> Engine::TakeKeyChanges() {
  std::vector<KeyChange> out;
  out.swap(key_changes_);
  return out;
}

Result<Unit> Engine::SetSearchEnabled(const std::string& conversation_id, bool enabled) {
  if (!ValidId(conversation_id)) return Invalid("e2ee: bad conversation id");
  auto search = LoadSearchKey(conversation_id);
  if (!search.ok()) return search.error();
  Writes writes;
  if (enabled && search->key.empty()) {
    search->key = options_.random(32);
    // A fresh chain makes the next EncryptMessage send the new key to every member device.
    writes.push_back(Erase(kKindSenderChain, conversation_id));
  }
  search->enabled = enabled;
  writes.push_back(Put(kKindSearchKey, conversation_id, EncodeSearchKey(*search)));
  return store_.Commit(writes);
}

Result<std::vector<std::string>> Engine::SearchTokens(const std::string& conversation_id,
                                                      std::string_view text) {
  auto search = LoadSearchKey(conversation_id);
  if (!search.ok()) return search.error();
  if (!search->enabled || search->key.empty()) return std::vector<std::string>{};
  return crypto::SearchTokens(search->key, text);
}

Result<crypto::MediaEncrypted> Engine::EncryptMedia(std::istream& in, std::ostream& out) {
  return crypto::EncryptMedia(in, out, options_.random);
}

Result<Unit> Engine::DecryptMedia(std::istream& in, std::ostream& out,
                                  const crypto::MediaInfo& info) {
  return crypto::DecryptMedia(in, out, info.key, info.sha256, info.size);
}

}  // namespace parley::sdk::e2ee
