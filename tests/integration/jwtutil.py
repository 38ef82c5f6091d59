"""JWT and Ed25519 helpers for the integration tests (standard library only).

The Ed25519 code is the reference implementation from RFC 8032, section 6. It is slow and not
constant time, which is fine here: the tests use it to check the server's signatures and to forge
tokens the server must reject.
"""
import base64
import hashlib
import hmac
import json


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode_jwt(token: str):
    """Returns (header, payload, signature bytes, signing input bytes) without verifying."""
    head, body, sig = token.split(".")
    return (json.loads(b64url_decode(head)), json.loads(b64url_decode(body)), b64url_decode(sig),
            f"{head}.{body}".encode("ascii"))


def encode_segment(obj) -> str:
    return b64url_encode(json.dumps(obj, separators=(",", ":")).encode())


def make_jwt(header: dict, payload: dict, signer=None) -> str:
    """Builds a JWT; signer(signing_input: bytes) -> bytes, or None for an empty signature."""
    signing_input = f"{encode_segment(header)}.{encode_segment(payload)}"
    sig = signer(signing_input.encode("ascii")) if signer else b""
    return f"{signing_input}.{b64url_encode(sig)}"


def hs256(key: bytes):
    return lambda msg: hmac.new(key, msg, hashlib.sha256).digest()


# --- Ed25519 (RFC 8032 reference code) ---------------------------------------------------------

_p = 2**255 - 19
_q = 2**252 + 27742317777372353535851937790883648493


def _inv(x):
    return pow(x, _p - 2, _p)


_d = -121665 * _inv(121666) % _p
_sqrt_m1 = pow(2, (_p - 1) // 4, _p)


def _add(P, Q):
    A = (P[1] - P[0]) * (Q[1] - Q[0]) % _p
    B = (P[1] + P[0]) * (Q[1] + Q[0]) % _p
    C = 2 * P[3] * Q[3] * _d % _p
    D = 2 * P[2] * Q[2] % _p
    E, F, G, H = B - A, D - C, D + C, B + A
    return (E * F, G * H, F * G, E * H)


def _mul(s, P):
    Q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            Q = _add(Q, P)
        P = _add(P, P)
        s >>= 1
    return Q


def _equal(P, Q):
    return (P[0] * Q[2] - Q[0] * P[2]) % _p == 0 and (P[1] * Q[2] - Q[1] * P[2]) % _p == 0


def _recover_x(y, sign):
    if y >= _p:
        return None
    x2 = (y * y - 1) * _inv(_d * y * y + 1)
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_p + 3) // 8, _p)
    if (x * x - x2) % _p != 0:
        x = x * _sqrt_m1 % _p
    if (x * x - x2) % _p != 0:
        return None
    if (x & 1) != sign:
        x = _p - x
    return x


_gy = 4 * _inv(5) % _p
_gx = _recover_x(_gy, 0)
_G = (_gx, _gy, 1, _gx * _gy % _p)


def _compress(P):
    zinv = _inv(P[2])
    x, y = P[0] * zinv % _p, P[1] * zinv % _p
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


def _decompress(s):
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % _p)


def _hash_q(data):
    return int.from_bytes(hashlib.sha512(data).digest(), "little") % _q


def _expand(secret):
    h = hashlib.sha512(secret).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, h[32:]


def ed25519_public(secret: bytes) -> bytes:
    return _compress(_mul(_expand(secret)[0], _G))


def ed25519_sign(secret: bytes, msg: bytes) -> bytes:
    a, prefix = _expand(secret)
    A = _compress(_mul(a, _G))
    r = _hash_q(prefix + msg)
    Rs = _compress(_mul(r, _G))
    s = (r + _hash_q(Rs + A + msg) * a) % _q
    return Rs + int.to_bytes(s, 32, "little")


def ed25519_verify(public: bytes, msg: bytes, sig: bytes) -> bool:
    if len(sig) != 64:
        return False
    A = _decompress(public)
    R = _decompress(sig[:32])
    if A is None or R is None:
        return False
    s = int.from_bytes(sig[32:], "little")
    if s >= _q:
        return False
    h = _hash_q(sig[:32] + public + msg)
    return _equal(_mul(s, _G), _add(R, _mul(h, A)))
