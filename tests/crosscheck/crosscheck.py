#!/usr/bin/python3
"""Cross-checks the C++ protocol vectors (tests/vectors/*.json) against independent code.

- X3DH: Debian's python3-x3dh (1.0.3), configured to Parley's profile (Ed25519-format identity,
  SHA-256, info "parley.x3dh.v1", Encode(K) = 0x05 || X25519 form), reproduces SK and AD on both
  the active and the passive side, and verifies the C++ signed-prekey signature. python3-xeddsa's
  ed25519_seed_sign reproduces that signature byte for byte; python3-x3dh's own signatures
  (XEdDSA-style, randomized nonce) verify with libsodium (PyNaCl) as the C++ code does.
- Double Ratchet: Debian's python3-doubleratchet (1.0.3), its abstract classes implemented with
  HKDF/HMAC-SHA-256 and PyNaCl's XChaCha20-Poly1305 and fed the vector's random values, replays
  every step: it reproduces each header, message key and ciphertext, decrypts the C++ ciphertexts
  out of order and rejects the replay.
- Sender keys, media, safety numbers, search tokens: recomputed from their documented formulas
  with hashlib/hmac/cryptography/PyNaCl.
Usage: /usr/bin/python3 tests/crosscheck/crosscheck.py tests/vectors   (exit 0 = all agree)
"""
import asyncio
import base64
import hashlib
import hmac
import json
import re
import os
import secrets
import struct
import sys
import time

import nacl.bindings as nb
import nacl.signing
import xeddsa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import x3dh
import x3dh.base_state
from x3dh.models import BaseStateModel, IdentityKeyPairModel, SignedPreKeyPairModel
from x3dh.types import Bundle, IdentityKeyFormat, SecretType

import doubleratchet
from doubleratchet import DoubleRatchet as DR
from doubleratchet.aead import AEAD
from doubleratchet.diffie_hellman_ratchet import DuplicateMessageException
from doubleratchet.recommended import HashFunction, diffie_hellman_ratchet_curve25519, kdf_hkdf, kdf_separate_hmacs
from doubleratchet.types import EncryptedMessage, Header

H = bytes.fromhex
CHECKS = 0


def check(cond, what):
    global CHECKS
    CHECKS += 1
    if not cond:
        raise AssertionError(what)


def hkdf(salt, ikm, info, n):
    return HKDF(hashes.SHA256(), n, salt, info).derive(ikm)


def load(d, name):
    with open(os.path.join(d, name)) as f:
        return json.load(f)


# --- X3DH ----------------------------------------------------------------------------------------

class ParleyX3dh(x3dh.base_state.BaseState):
    @staticmethod
    def _encode_public_key(key_format, pub):
        if key_format is IdentityKeyFormat.ED_25519:
            pub = xeddsa.ed25519_pub_to_curve25519_pub(pub)
        return b"\x05" + pub


def x3dh_state(v, seed, spk_priv, spk_sig, pre_keys):
    model = BaseStateModel(
        identity_key=IdentityKeyPairModel(secret=seed, secret_type=SecretType.SEED),
        signed_pre_key=SignedPreKeyPairModel(priv=spk_priv, sig=spk_sig, timestamp=int(time.time())),
        old_signed_pre_key=None,
        pre_keys=frozenset(pre_keys))
    return ParleyX3dh.from_model(model, IdentityKeyFormat.ED_25519, x3dh.HashFunction.SHA_256,
                                 v["info"].encode())


async def check_x3dh(v):
    a, b = v["alice"], v["bob"]
    # Identity conversions agree with libsodium's.
    for p in (a, b):
        check(xeddsa.seed_to_ed25519_pub(H(p["seed"])) == H(p["signing_key"]), "ed25519 pub")
        check(xeddsa.ed25519_pub_to_curve25519_pub(H(p["signing_key"])) == H(p["identity_key"]),
              "ed25519 -> x25519 public")
        check(xeddsa.seed_to_priv(H(p["seed"])) == H(p["identity_dh_private"]),
              "ed25519 seed -> x25519 private")
    # The signed prekey signature: RFC 8032 over 0x05 || SPK, byte for byte.
    sig = H(b["signed_prekey_signature"])
    check(H(b["signed_prekey_signed_message"]) == b"\x05" + H(b["signed_prekey_public"]), "Encode(SPK)")
    check(xeddsa.ed25519_seed_sign(H(b["seed"]), H(b["signed_prekey_signed_message"])) == sig,
          "signature reproduced by xeddsa.ed25519_seed_sign")
    check(xeddsa.ed25519_verify(sig, H(b["signing_key"]), H(b["signed_prekey_signed_message"])),
          "xeddsa verifies the C++ signature")
    # python3-x3dh's own signature (XEdDSA-style over the clamped scalar, random nonce) verifies
    # with libsodium's crypto_sign_verify_detached, which the C++ code uses.
    own = ParleyX3dh.create(IdentityKeyFormat.ED_25519, x3dh.HashFunction.SHA_256, b"x")
    nacl.signing.VerifyKey(own.bundle.identity_key).verify(
        b"\x05" + own.bundle.signed_pre_key, own.bundle.signed_pre_key_sig)

    bob = x3dh_state(v, H(b["seed"]), H(b["signed_prekey_private"]), sig,
                     [H(b["one_time_prekey_private"])])
    check(bob.bundle.signed_pre_key == H(b["signed_prekey_public"]), "SPK public")
    check(bob.bundle.identity_key == H(b["signing_key"]), "bundle identity (Ed25519 format)")
    alice = x3dh_state(v, H(a["seed"]), secrets.token_bytes(32), b"\0" * 64, [])
    for case in v["cases"]:
        with_otk = case["one_time_prekey_used"]
        bundle = Bundle(identity_key=H(b["signing_key"]), signed_pre_key=H(b["signed_prekey_public"]),
                        signed_pre_key_sig=sig,
                        pre_keys=frozenset([H(b["one_time_prekey_public"])] if with_otk else []))
        real_token_bytes = x3dh.base_state.secrets.token_bytes
        x3dh.base_state.secrets.token_bytes = lambda n: H(a["ephemeral_private"])
        try:
            sk, ad, header = await alice.get_shared_secret_active(bundle, require_pre_key=with_otk)
        finally:
            x3dh.base_state.secrets.token_bytes = real_token_bytes
        check(header.ephemeral_key == H(a["ephemeral_public"]), "ephemeral public")
        check(sk == H(case["shared_secret"]), "x3dh SK (active)")
        check(ad == H(case["associated_data"]), "x3dh AD (active)")
        sk2, ad2, _ = await bob.get_shared_secret_passive(header, require_pre_key=with_otk)
        check(sk2 == H(case["shared_secret"]), "x3dh SK (passive)")
        check(ad2 == H(case["associated_data"]), "x3dh AD (passive)")
        ikm = b"\xff" * 32 + b"".join(H(d) for d in case["dh"])
        check(ikm == H(case["ikm"]), "ikm")


# --- Double Ratchet ------------------------------------------------------------------------------

def ratchet_classes(v):
    root_info = v["root_info"].encode()
    message_info = v["message_info"].encode()
    used_keys = []

    class RootKdf(kdf_hkdf.KDF):
        @staticmethod
        def _get_hash_function():
            return HashFunction.SHA_256

        @staticmethod
        def _get_info():
            return root_info

    class ChainKdf(kdf_separate_hmacs.KDF):
        @staticmethod
        def _get_hash_function():
            return HashFunction.SHA_256

    class XChaCha(AEAD):
        @staticmethod
        def _keys(mk):
            okm = hkdf(b"\0" * 32, mk, message_info, 56)
            return okm[:32], okm[32:]

        @staticmethod
        async def encrypt(plaintext, key, associated_data):
            used_keys.append(key)
            k, n = XChaCha._keys(key)
            return nb.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, associated_data, n, k)

        @staticmethod
        async def decrypt(ciphertext, key, associated_data):
            used_keys.append(key)
            k, n = XChaCha._keys(key)
            return nb.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, associated_data, n, k)

    class Parley(DR):
        @staticmethod
        def _build_associated_data(associated_data, header):
            return (associated_data + header.ratchet_pub +
                    struct.pack(">II", header.previous_sending_chain_length, header.sending_chain_length))

    def dh_class(draws):
        queue = [H(x) for x in draws]

        class Dh(diffie_hellman_ratchet_curve25519.DiffieHellmanRatchet):
            @staticmethod
            def _generate_priv():
                return queue.pop(0)

            @staticmethod
            def _derive_pub(priv):
                return nb.crypto_scalarmult_base(priv)

            @staticmethod
            def _perform_diffie_hellman(own_priv, other_pub):
                return nb.crypto_scalarmult(own_priv, other_pub)
        return Dh

    return RootKdf, ChainKdf, XChaCha, Parley, dh_class, used_keys


def parse_envelope(raw):
    check(raw[0] == 1, "envelope version")
    pos = 2
    prekey = None
    if raw[1] == 1:
        signing, eph = raw[2:34], raw[34:66]
        spk_id, = struct.unpack(">Q", raw[66:74])
        has = raw[74]
        pos = 75
        otk_id = None
        if has:
            otk_id, = struct.unpack(">Q", raw[75:83])
            pos = 83
        prekey = (signing, eph, spk_id, otk_id)
    else:
        check(raw[1] == 2, "envelope type")
    return prekey, raw[pos:pos + 40], raw[pos + 40:]


async def check_ratchet(v, x3dh_vec):
    RootKdf, ChainKdf, XChaCha, Parley, dh_class, used_keys = ratchet_classes(v)
    common = dict(root_chain_kdf=RootKdf, message_chain_kdf=ChainKdf, message_chain_constant=b"\x02\x01",
                  dos_protection_threshold=v["max_skip"], max_num_skipped_message_keys=v["max_skipped_keys"],
                  aead=XChaCha)
    sk, ad = H(v["shared_secret"]), H(v["associated_data"])
    check(sk == H(x3dh_vec["cases"][0]["shared_secret"]), "ratchet starts from x3dh case 0")
    alice_dh, bob_dh = dh_class(v["alice_random"]), dh_class(v["bob_random"])
    parties = {"alice": None, "bob": None}
    messages = {}
    for step in v["steps"]:
        who = step["by"]
        if step["op"] == "encrypt":
            pt = H(step["plaintext"])
            used_keys.clear()
            if parties[who] is None:
                check(who == "alice", "only alice starts")
                parties[who], msg = await Parley.encrypt_initial_message(
                    diffie_hellman_ratchet_class=alice_dh, shared_secret=sk,
                    recipient_ratchet_pub=H(v["bob_signed_prekey_public"]), message=pt,
                    associated_data=ad, **common)
            else:
                msg = await parties[who].encrypt_message(pt, ad)
            h = step["header"]
            check(msg.header.ratchet_pub == H(h["dh"]), "header dh %d" % step["message"])
            check(msg.header.previous_sending_chain_length == h["pn"], "header pn")
            check(msg.header.sending_chain_length == h["n"], "header n")
            check(used_keys == [H(step["message_key"])], "message key %d" % step["message"])
            check(msg.ciphertext == H(step["ciphertext"]), "ciphertext %d" % step["message"])
            check(Parley._build_associated_data(ad, msg.header) == H(step["aead_ad"]), "aead ad")
            prekey, header_bytes, ct = parse_envelope(base64.b64decode(step["envelope_base64"]))
            check(header_bytes == H(step["header_bytes"]) and ct == msg.ciphertext, "envelope")
            if prekey:
                check(prekey[0] == H(x3dh_vec["alice"]["signing_key"]) and
                      prekey[1] == H(x3dh_vec["alice"]["ephemeral_public"]) and prekey[2] == 7 and
                      prekey[3] == 42, "prekey fields")
            # Decrypt the C++ ciphertext, not Python's own (they are equal anyway).
            messages[step["message"]] = EncryptedMessage(
                header=Header(H(h["dh"]), h["pn"], h["n"]), ciphertext=H(step["ciphertext"]))
            expected_pt = {step["message"]: pt}
            messages.setdefault("pt", {}).update(expected_pt)
        else:
            m = messages[step["message"]]
            used_keys.clear()
            try:
                if parties[who] is None:
                    parties[who], pt = await Parley.decrypt_initial_message(
                        diffie_hellman_ratchet_class=bob_dh, shared_secret=sk,
                        own_ratchet_priv=H(v["bob_signed_prekey_private"]), message=m,
                        associated_data=ad, **common)
                else:
                    pt = await parties[who].decrypt_message(m, ad)
                result = "ok"
            except DuplicateMessageException:
                result = "replay"
            check(result == step["result"], "decrypt result of %d: %s" % (step["message"], result))
            if result == "ok":
                check(pt == messages["pt"][step["message"]], "plaintext %d" % step["message"])
                check(used_keys == [H(step["message_key"])], "decrypt key %d" % step["message"])


# --- Sender keys ---------------------------------------------------------------------------------

def check_sender_key(v):
    info = v["info"].encode()
    ctx = v["context"]
    c = v["chain"]
    check(nacl.signing.SigningKey(H(c["signing_seed"])).verify_key.encode() == H(c["signing_public"]),
          "sender signing key")
    enc = lambda s: struct.pack(">H", len(s)) + s.encode()
    ck = H(c["chain_key"])
    for m in v["messages"]:
        it = m["iteration"]
        check(ck == H(m["chain_key"]), "sender chain key %d" % it)
        mk = hmac.new(ck, b"\x01", hashlib.sha256).digest()
        ck = hmac.new(ck, b"\x02", hashlib.sha256).digest()
        check(mk == H(m["message_key"]), "sender mk %d" % it)
        okm = hkdf(b"\0" * 32, mk, info, 56)
        check(okm[:32] == H(m["aead_key"]) and okm[32:] == H(m["aead_nonce"]), "sender aead key")
        ad = (b"\x01" + enc(ctx["conversation_id"]) + enc(ctx["sender_user_id"]) +
              enc(ctx["sender_device_id"]) + H(c["chain_id"]) + struct.pack(">I", it))
        check(ad == H(m["ad"]), "sender ad")
        pt = nb.crypto_aead_xchacha20poly1305_ietf_decrypt(H(m["ciphertext"]), ad, okm[32:], okm[:32])
        check(pt == H(m["plaintext"]), "sender plaintext")
        nacl.signing.VerifyKey(H(c["signing_public"])).verify(ad + H(m["ciphertext"]), H(m["signature"]))
        msg = base64.b64decode(m["message_base64"])
        check(msg == b"\x01" + H(c["chain_id"]) + struct.pack(">I", it) + H(m["ciphertext"]) +
              H(m["signature"]), "sender message layout")
    dist = H(v["distribution"])
    check(dist == b"\x01" + enc(ctx["conversation_id"]) + H(c["chain_id"]) + struct.pack(">I", 0) +
          H(c["chain_key"]) + H(c["signing_public"]) + b"\x01" + struct.pack(">I", 0) +
          H(v["distribution_search_key"]), "distribution layout")


# --- Media, safety numbers, search tokens --------------------------------------------------------

def check_media(v):
    key, blob = H(v["key"]), H(v["blob"])
    check(hashlib.sha256(blob).hexdigest() == v["blob_sha256"], "blob sha256")
    hb = nb.crypto_secretstream_xchacha20poly1305_HEADERBYTES
    st = nb.crypto_secretstream_xchacha20poly1305_state()
    nb.crypto_secretstream_xchacha20poly1305_init_pull(st, blob[:hb], key)
    pos, out, tag = hb, b"", None
    step = v["chunk_bytes"] + nb.crypto_secretstream_xchacha20poly1305_ABYTES
    while pos < len(blob):
        pt, tag = nb.crypto_secretstream_xchacha20poly1305_pull(st, blob[pos:pos + step], None)
        out += pt
        pos += step
    check(tag == nb.crypto_secretstream_xchacha20poly1305_TAG_FINAL, "final tag")
    check(len(out) == v["plaintext_size"], "media size")
    check(out == bytes((i * 7) & 0xFF for i in range(len(out))), "media plaintext")
    check(hashlib.sha256(out).hexdigest() == v["plaintext_sha256"], "plaintext sha256")
    info = H(v["media_info"])
    check(info[0] == 1 and info[1:33] == key and info[33:65] == H(v["blob_sha256"]) and
          struct.unpack(">Q", info[65:73])[0] == len(out), "media info layout")


def fingerprint_half(key, ident, iterations):
    h = hashlib.sha512(b"\0\0" + key + ident.encode()).digest()
    for _ in range(iterations):
        h = hashlib.sha512(h + key).digest()
    return "".join("%05d" % (int.from_bytes(h[i:i + 5], "big") % 100000) for i in range(0, 30, 5))


def check_safety_number(v):
    halves = []
    for side in ("local", "remote"):
        u = v[side]
        key = b"".join(sorted(H(k) for k in u["signing_keys"]))
        check(key == H(u["fingerprint_key"]), "fingerprint key")
        half = fingerprint_half(key, u["user_id"], v["iterations"])
        check(half == u["half"], "fingerprint half")
        halves.append(half)
    check("".join(sorted(halves)) == v["safety_number"], "safety number")


def check_search_tokens(v):
    key = H(v["search_key"])
    for case in v["cases"]:
        text = H(case["text"]).decode()
        words = [H(w).decode() for w in case["words"]]
        if text.isascii():  # the ASCII rule: runs of [a-z0-9] after lowercasing, distinct
            expected = list(dict.fromkeys(re.findall("[a-z0-9]+", text.lower())))
            check(words == expected, "ascii words of %r" % text)
        for w, t in zip(words, case["tokens"]):
            check(hmac.new(key, w.encode(), hashlib.sha256).hexdigest()[:32] == t, "token")


async def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "vectors")
    x = load(d, "x3dh.json")
    await check_x3dh(x)
    await check_ratchet(load(d, "ratchet.json"), x)
    check_sender_key(load(d, "sender_key.json"))
    check_media(load(d, "media.json"))
    check_safety_number(load(d, "safety_number.json"))
    check_search_tokens(load(d, "search_token.json"))
    print("crosscheck: %d checks passed (python3-x3dh %s, python3-doubleratchet %s)" %
          (CHECKS, x3dh.__version__["short"] if isinstance(x3dh.__version__, dict) else x3dh.__version__,
           doubleratchet.__version__["short"] if isinstance(doubleratchet.__version__, dict)
           else doubleratchet.__version__))


if __name__ == "__main__":
    asyncio.run(main())
