// The E2EE decoders of the client SDK (src/sdk/crypto, src/sdk/e2ee) on attacker-controlled bytes:
// what a malicious server or sender can put in a message body or a to-device message, and what a
// corrupt local database can hold. The first byte picks the mode:
//
//   0 decoders  byte 1 picks one pure decoder, the rest is its input: the sender-key message
//               header, the ratchet header, the to-device envelope (with its X3DH fields), the
//               sender key distribution, MediaInfo, base64, every stored record (records.h,
//               ratchet state, sender chains), and X3DH's responder on raw prekey fields.
//               Checks: an accepted input re-encodes to itself where the layout is canonical,
//               and re-decodes after encoding everywhere else.
//   1 engine    a sequence of ≤ 6 operations on Bob's engine, which has real sessions with Alice
//               and Carol built by the harness from the in-memory ports (memory_ports.h):
//               op byte, u16 length, payload. op bit 0: DecryptMessage / HandleToDevice;
//               bits 1–2: the sender (alice/a1, carol/c1, bob/b1 himself, alice/ax unknown);
//               bits 3–4: the conversation (c1, c2, c3, an invalid id); bit 5: the payload is the
//               body as sent, else the harness base64-encodes it (so binary mutations count).
//               Checks the engine's contract: a failed call leaves the StateStore unchanged
//               (no Commit at all), an error code from the documented set.
//   2 corrupt   byte 1 picks one of Bob's stored records (or, past the end, a new record of a
//               kind byte 2 picks, the id being a prefix of the rest); the rest replaces its
//               value. Then the harness runs Bob's day: Bootstrap, the pending to-device messages
//               and conversation messages, a send, search. Nothing may crash or throw; failed
//               decrypts leave the store unchanged.
//
// Seeds: `PARLEY_E2EE_WRITE_SEEDS=fuzz/corpus/e2ee build-fuzz/e2ee_fuzzer -runs=0` writes the
// valid messages of the harness's own conversation (and truncations) there. Randomness is a
// counter-based deterministic stream, so the seeds stay valid from run to run.
#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sdk/crypto/double_ratchet.h"
#include "sdk/crypto/media.h"
#include "sdk/crypto/primitives.h"
#include "sdk/crypto/sender_key.h"
#include "sdk/crypto/x3dh.h"
#include "sdk/e2ee/engine.h"
#include "sdk/e2ee/envelope.h"
#include "sdk/e2ee/memory_ports.h"
#include "sdk/e2ee/records.h"

using namespace parley;
using namespace parley::sdk;
using namespace parley::sdk::e2ee;

#define FUZZ_CHECK(cond) \
  if (!(cond)) __builtin_trap()

namespace {

constexpr int64_t kNow = 1'700'000'000;

// SHA-256(label ‖ counter) blocks: reproducible keys, so seeds written once stay valid.
crypto::RandomFn DeterministicRandom(std::string label) {
  auto counter = std::make_shared<uint64_t>(0);
  return [label = std::move(label), counter](size_t n) {
    std::string out;
    while (out.size() < n) {
      out += crypto::Sha256(label + std::to_string((*counter)++));
    }
    out.resize(n);
    return out;
  };
}

EngineOptions Options(const std::string& who) {
  EngineOptions o;
  o.random = DeterministicRandom(who);
  o.now_s = [] { return kNow; };
  o.initial_one_time_prekeys = 4;
  o.min_one_time_prekeys = 2;
  return o;
}

struct Device {
  Device(FakeKeyServer& server, std::string user, std::string device)
      : user_id(std::move(user)),
        device_id(std::move(device)),
        directory(server, user_id, device_id),
        members(server, user_id),
        engine(store, directory, members, user_id, device_id,
               Options(user_id + "/" + device_id)) {}
  std::string user_id, device_id;
  MemoryStateStore store;
  MemoryKeyDirectory directory;
  MemoryConversationMembers members;
  Engine engine;
};

// A delivered to-device message or conversation message, decoded from base64.
struct Item {
  std::string name;
  bool to_device = false;
  int sender = 0;  // index into kSenders
  int conversation = 0;
  std::string bytes;
};

const char* const kSenders[4][2] = {{"alice", "a1"}, {"carol", "c1"}, {"bob", "b1"}, {"alice", "ax"}};
const char* const kConversations[4] = {"c1", "c2", "c3", "c\nbad"};

void Require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "e2ee_fuzzer: harness setup failed: %s\n", what);
    std::abort();
  }
}

// Alice, Bob and Carol talk; Bob's state is snapshotted with some messages still undelivered.
struct World {
  FakeKeyServer server;
  MemoryStateStore bob_snapshot;
  std::vector<Item> items;  // what Bob has not processed yet (and a few he has: replays)

  World() {
    Require(sodium_init() >= 0, "sodium_init");
    Device alice(server, "alice", "a1"), bob(server, "bob", "b1"), carol(server, "carol", "c1");
    for (Device* d : {&alice, &bob, &carol}) Require(d->engine.Bootstrap().ok(), "bootstrap");
    // The groups as the server lists them: Bob takes key material only from their members.
    server.conversations = {{"c1", {"alice", "bob"}}, {"c2", {"alice", "bob"}},
                            {"c3", {"bob", "carol"}}};
    auto send = [](Device& from, const char* conv, std::vector<std::string> members,
                   const char* text) {
      auto body = from.engine.EncryptMessage(conv, members, text);
      Require(body.ok(), "encrypt");
      return *crypto::Base64Decode(*body);
    };
    auto take = [&](Device& to) { return server.TakeQueue(to.user_id, to.device_id); };
    auto deliver = [&](Device& to) {
      for (const auto& m : take(to)) {
        Require(to.engine.HandleToDevice(m.sender_user_id, m.sender_device_id, m.body).ok(),
                "to-device");
      }
    };
    // Alice opens a session with Bob (a prekey message) and sends on c1.
    std::string m0 = send(alice, "c1", {"bob"}, "m0 hello bob");
    auto t1 = take(bob);
    Require(t1.size() == 1, "t1");
    Require(bob.engine.HandleToDevice("alice", "a1", t1[0].body).ok(), "t1 handle");
    Require(bob.engine.DecryptMessage("c1", "alice", "a1", crypto::Base64Encode(m0)).ok(), "m0");
    // Bob answers: a plain ratchet message to Alice, so her session stops sending prekey ones.
    send(bob, "c1", {"alice"}, "r0 hi alice");
    deliver(alice);
    std::string m1 = send(alice, "c1", {"bob"}, "m1");
    std::string m2 = send(alice, "c1", {"bob"}, "m2");
    std::string m3 = send(alice, "c1", {"bob"}, "m3 with some more text in it");
    Require(bob.engine.DecryptMessage("c1", "alice", "a1", crypto::Base64Encode(m2)).ok(), "m2");
    // A second conversation: its sender key comes as a plain ratchet message (type 2).
    std::string c2 = send(alice, "c2", {"bob"}, "c2 first");
    auto t3 = take(bob);
    Require(t3.size() == 1, "t3");
    // Carol's first message: a prekey message with a one-time prekey, then the c3 message.
    Require(bob.engine.SetSearchEnabled("c3", true).ok(), "search");
    Require(carol.engine.SetSearchEnabled("c3", true).ok(), "search");
    std::string d0 = send(carol, "c3", {"bob"}, "d0 from carol");
    auto t4 = take(bob);
    Require(t4.size() == 1, "t4");
    bob_snapshot = bob.store;

    items = {
        {"dm_c1_skipped", false, 0, 0, m1},
        {"dm_c1_ahead", false, 0, 0, m3},
        {"dm_c1_replay", false, 0, 0, m2},
        {"dm_c1_replay_first", false, 0, 0, m0},
        {"dm_c2_needs_key", false, 0, 1, c2},
        {"dm_c3_needs_key", false, 1, 2, d0},
        {"td_prekey_repeat", true, 0, 0, *crypto::Base64Decode(t1[0].body)},
        {"td_c2_ratchet", true, 0, 0, *crypto::Base64Decode(t3[0].body)},
        {"td_c3_prekey_otk", true, 1, 0, *crypto::Base64Decode(t4[0].body)},
    };
  }
};

World& TheWorld() {
  static World* world = new World();  // never destroyed: no exit-time order issues
  return *world;
}

bool DocumentedDecryptError(ErrorCode c) {
  return c == ErrorCode::kNotFound || c == ErrorCode::kConflict || c == ErrorCode::kForbidden ||
         c == ErrorCode::kInvalidArgument || c == ErrorCode::kInternal;
}

// --- mode 0: the pure decoders ------------------------------------------------------------------

template <typename Decode, typename Encode>
void RoundTrip(std::string_view in, Decode decode, Encode encode, bool canonical) {
  auto d = decode(in);
  if (!d.ok()) {
    FUZZ_CHECK(d.error().code == ErrorCode::kInvalidArgument ||
               d.error().code == ErrorCode::kInternal);
    return;
  }
  std::string once = encode(*d);
  if (canonical) FUZZ_CHECK(once == in);
  auto again = decode(once);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(encode(*again) == once);
}

void FuzzDecoder(uint8_t which, std::string_view in) {
  switch (which % 16) {
    case 0: {
      auto h = crypto::ParseSenderKeyHeader(in);
      if (h.ok()) FUZZ_CHECK(h->chain_id.size() == crypto::kChainIdBytes);
      break;
    }
    case 1:
      RoundTrip(in, crypto::RatchetHeader::Decode,
                [](const crypto::RatchetHeader& h) { return h.Encode(); }, true);
      break;
    case 2:
      RoundTrip(in, DecodeEnvelope, EncodeEnvelope, true);
      break;
    case 3:
      RoundTrip(in, crypto::DecodeDistribution, crypto::EncodeDistribution, true);
      break;
    case 4:
      RoundTrip(in, crypto::DecodeMediaInfo, crypto::EncodeMediaInfo, true);
      break;
    case 5: {
      auto b = crypto::Base64Decode(in);
      if (b) FUZZ_CHECK(crypto::Base64Encode(*b) == in);
      break;
    }
    case 6: RoundTrip(in, DecodeMeta, EncodeMeta, false); break;
    case 7: RoundTrip(in, DecodeSignedPrekey, EncodeSignedPrekey, true); break;
    case 8: RoundTrip(in, DecodeSessions, EncodeSessions, false); break;
    case 9: RoundTrip(in, DecodeOwnChain, EncodeOwnChain, false); break;
    case 10: RoundTrip(in, DecodeChainIndex, EncodeChainIndex, true); break;
    case 11: RoundTrip(in, DecodeSearchKey, EncodeSearchKey, false); break;
    case 12: RoundTrip(in, crypto::ParseRatchet, crypto::SerializeRatchet, true); break;
    case 13: RoundTrip(in, crypto::ParseSenderChain, crypto::SerializeSenderChain, true); break;
    case 14:
      RoundTrip(in, crypto::ParseSenderReceiver, crypto::SerializeSenderReceiver, true);
      break;
    case 15: {
      // X3DH as Bob on raw prekey fields: signing key (32) ‖ ephemeral (32), any lengths.
      static const crypto::Identity bob = crypto::IdentityFromSeed(std::string(32, '\x07'));
      static const std::string spk(32, '\x09'), otk(32, '\x0b');
      std::string_view signing = in.substr(0, std::min<size_t>(in.size(), 32));
      std::string_view ephemeral = in.size() > 32 ? in.substr(32) : std::string_view();
      auto r = crypto::X3dhRespond(bob, spk, in.size() % 2 ? otk : std::string(), signing,
                                   ephemeral);
      if (r.ok()) {
        FUZZ_CHECK(r->shared_secret.size() == 32);
        FUZZ_CHECK(r->associated_data.size() == crypto::kX3dhAdBytes);
      } else {
        FUZZ_CHECK(r.error().code == ErrorCode::kInvalidArgument);
      }
      break;
    }
  }
}

// --- mode 1: the engine -------------------------------------------------------------------------

struct Bob {
  explicit Bob(World& w)
      : server(w.server),
        store(w.bob_snapshot),
        directory(server, "bob", "b1"),
        members(server, "bob"),
        engine(store, directory, members, "bob", "b1", FuzzOptions()) {}
  // The server holds 3 of Bob's one-time prekeys (Carol claimed one): below 4, so Bootstrap
  // replenishes and publishes, reading every stored prekey.
  static EngineOptions FuzzOptions() {
    EngineOptions o = Options("bob/b1/fuzz");
    o.min_one_time_prekeys = 4;
    return o;
  }
  FakeKeyServer server;  // a copy: sends and claims stay in this run
  MemoryStateStore store;
  MemoryKeyDirectory directory;
  MemoryConversationMembers members;
  Engine engine;
};

// One DecryptMessage or HandleToDevice; on failure the store must not have changed.
void Operate(Bob& bob, uint8_t op, std::string_view payload) {
  const auto& sender = kSenders[(op >> 1) & 3];
  const std::string conversation = kConversations[(op >> 3) & 3];
  std::string body = (op & 0x20) ? std::string(payload) : crypto::Base64Encode(payload);
  auto before = bob.store.data();
  int commits = bob.store.commits;
  if (op & 1) {
    auto r = bob.engine.HandleToDevice(sender[0], sender[1], body);
    if (!r.ok()) {
      FUZZ_CHECK(DocumentedDecryptError(r.error().code));
      FUZZ_CHECK(bob.store.commits == commits);
      FUZZ_CHECK(bob.store.data() == before);
    }
  } else {
    auto r = bob.engine.DecryptMessage(conversation, sender[0], sender[1], body);
    if (!r.ok()) {
      FUZZ_CHECK(DocumentedDecryptError(r.error().code));
      FUZZ_CHECK(bob.store.commits == commits);
      FUZZ_CHECK(bob.store.data() == before);
    } else {
      FUZZ_CHECK(bob.store.commits == commits + 1);
    }
  }
}

void FuzzEngine(std::string_view in) {
  Bob bob(TheWorld());
  for (int i = 0; i < 6 && in.size() >= 3; ++i) {
    uint8_t op = static_cast<uint8_t>(in[0]);
    size_t len = (static_cast<uint8_t>(in[1]) << 8) | static_cast<uint8_t>(in[2]);
    in.remove_prefix(3);
    len = std::min(len, in.size());
    Operate(bob, op, in.substr(0, len));
    in.remove_prefix(len);
  }
}

// --- mode 2: a corrupt local database -----------------------------------------------------------

void FuzzCorruptStore(std::string_view in) {
  if (in.size() < 2) return;
  World& world = TheWorld();
  Bob bob(world);
  uint8_t pick = static_cast<uint8_t>(in[0]);
  uint8_t kind_pick = static_cast<uint8_t>(in[1]);
  in.remove_prefix(2);
  const auto& data = world.bob_snapshot.data();
  std::vector<StateStore::Write> corrupt;
  if (pick < data.size()) {
    auto it = std::next(data.begin(), pick);
    corrupt.push_back({it->first.first, it->first.second, std::string(in)});
  } else {
    static const char* const kKinds[] = {kKindMeta,          kKindSignedPrekey,
                                         kKindOneTimePrekey, kKindSession,
                                         kKindPeerIdentity,  kKindSenderChain,
                                         kKindSenderReceiver, kKindSearchKey,
                                         kKindReceiverIndex};
    size_t id_len = std::min<size_t>(kind_pick >> 4, in.size());
    corrupt.push_back({kKinds[kind_pick % 9], std::string(in.substr(0, id_len)),
                       std::string(in.substr(id_len))});
  }
  FUZZ_CHECK(bob.store.Commit(corrupt).ok());
  bob.store.commits = 0;

  // Bob's day. Only "no crash, no exception" for the calls that talk to the directory (they may
  // commit in steps); the decrypting calls keep their whole contract.
  (void)bob.engine.Bootstrap();
  for (const Item& item : world.items) {
    uint8_t op = static_cast<uint8_t>((item.to_device ? 1 : 0) | (item.sender << 1) |
                                      (item.conversation << 3));
    Operate(bob, op, item.bytes);
  }
  (void)bob.engine.EncryptMessage("c1", {"alice"}, "b1 reply");
  (void)bob.engine.EncryptMessage("c3", {"carol"}, "b1 to carol");
  (void)bob.engine.SearchTokens("c3", "words to search");
  (void)bob.engine.SigningKey();
  (void)bob.engine.TakeKeyChanges();
}

// --- seeds --------------------------------------------------------------------------------------

void WriteSeeds(const std::string& dir) {
  World& world = TheWorld();
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
  };
  auto op = [](const Item& item, size_t keep) {
    std::string out(1, static_cast<char>((item.to_device ? 1 : 0) | (item.sender << 1) |
                                         (item.conversation << 3)));
    std::string bytes = item.bytes.substr(0, keep);
    out.push_back(static_cast<char>(bytes.size() >> 8));
    out.push_back(static_cast<char>(bytes.size() & 0xff));
    return out + bytes;
  };
  const auto find = [&](const char* name) -> const Item& {
    for (const auto& i : world.items) {
      if (i.name == name) return i;
    }
    std::abort();
  };
  for (const auto& item : world.items) {
    write("engine_" + item.name, std::string(1, '\x01') + op(item, item.bytes.size()));
    write("engine_" + item.name + "_truncated",
          std::string(1, '\x01') + op(item, item.bytes.size() / 2));
    // The decoders on the same bytes: envelope (2), sender key header (0).
    write("decoder_" + item.name,
          std::string("\x00", 1) + std::string(1, item.to_device ? 2 : 0) + item.bytes);
  }
  // Key first, then the message it opens.
  const Item &t3 = find("td_c2_ratchet"), &c2 = find("dm_c2_needs_key");
  const Item &t4 = find("td_c3_prekey_otk"), &d0 = find("dm_c3_needs_key");
  write("engine_key_then_message_c2",
        std::string(1, '\x01') + op(t3, t3.bytes.size()) + op(c2, c2.bytes.size()));
  write("engine_prekey_then_message_c3",
        std::string(1, '\x01') + op(t4, t4.bytes.size()) + op(d0, d0.bytes.size()));
  write("engine_key_twice_then_message",
        std::string(1, '\x01') + op(t3, t3.bytes.size()) + op(t3, t3.bytes.size()) +
            op(c2, c2.bytes.size()));
  // Every stored record, to the matching record decoder and as a corrupt-store target.
  const auto& data = world.bob_snapshot.data();
  size_t index = 0;
  for (const auto& [key, value] : data) {
    static const std::pair<const char*, uint8_t> kDecoders[] = {
        {kKindMeta, 6},         {kKindSignedPrekey, 7}, {kKindSession, 8},
        {kKindSenderChain, 9},  {kKindReceiverIndex, 10}, {kKindSearchKey, 11}};
    for (const auto& [kind, decoder] : kDecoders) {
      if (key.first == kind) {
        write(std::string("record_") + kind, std::string("\x00", 1) +
                                                 std::string(1, static_cast<char>(decoder)) +
                                                 value);
      }
    }
    if (key.first == std::string(kKindSenderReceiver)) {
      write("record_e2ee_recv", std::string("\x00\x0e", 2) + value);
    }
    write("corrupt_" + std::to_string(index) + "_" + key.first,
          std::string("\x02", 1) + std::string(1, static_cast<char>(index)) + std::string(1, 0) +
              value.substr(0, value.size() - 1));
    ++index;
  }
  crypto::MediaInfo media{std::string(32, 'k'), std::string(32, 's'), 1234, "image/png", "a.png"};
  write("decoder_media_info", std::string("\x00\x04", 2) + crypto::EncodeMediaInfo(media));
  std::fprintf(stderr, "e2ee_fuzzer: seeds written to %s\n", dir.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  TheWorld();
  if (const char* dir = std::getenv("PARLEY_E2EE_WRITE_SEEDS")) {
    WriteSeeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: FuzzDecoder(static_cast<uint8_t>(in[0]), in.substr(1)); break;
    case 1: FuzzEngine(in); break;
    case 2: FuzzCorruptStore(in); break;
  }
  return 0;
}
