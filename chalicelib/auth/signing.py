"""Obelisk's token-signing keys: ES256 key pairs with a `kid`, kept in one SSM SecureString
parameter so they survive restarts and are shared by every function instance.

The first key of the ring signs; every key in the ring verifies, so rotating (prepending a new
key) does not invalidate live tokens. The ring is created on first use with a conditional write."""
from __future__ import annotations

import json
import threading
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chalicelib import clock, config
from chalicelib.config import settings
from chalicelib.store.aws import client

ALGORITHM = "ES256"
CACHE_SECONDS = 300

_lock = threading.Lock()
_cache: dict = {"at": 0.0, "ring": None}


@config.on_reset
def _forget_ring() -> None:
    """The ring was read from the configured parameter (`settings().signing_key_parameter`)."""
    with _lock:
        _cache.update(at=0.0, ring=None)


def _new_key() -> dict:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return {"kid": clock.random_id(12), "pem": pem, "created": clock.utc_iso()}


def _read() -> list[dict] | None:
    ssm = client("ssm")
    try:
        value = ssm.get_parameter(Name=settings().signing_key_parameter, WithDecryption=True)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None
    return json.loads(value)["keys"]


def _write(keys: list[dict], overwrite: bool) -> None:
    client("ssm").put_parameter(Name=settings().signing_key_parameter, Type="SecureString",
                                Value=json.dumps({"keys": keys}), Overwrite=overwrite)


def ring(refresh: bool = False) -> list[dict]:
    with _lock:
        if not refresh and _cache["ring"] and time.monotonic() - _cache["at"] < CACHE_SECONDS:
            return _cache["ring"]
    keys = _read()
    if keys is None:
        ssm = client("ssm")
        try:
            _write([_new_key()], overwrite=False)
        except ssm.exceptions.ParameterAlreadyExists:
            pass  # another instance created it first: use theirs
        keys = _read()
    with _lock:
        _cache.update(at=time.monotonic(), ring=keys)
    return keys


def rotate() -> str:
    """Prepends a new signing key; returns its kid. Old keys keep verifying."""
    keys = [_new_key(), *ring(refresh=True)]
    _write(keys, overwrite=True)
    ring(refresh=True)
    return keys[0]["kid"]


def sign(claims: dict) -> str:
    key = ring()[0]
    return jwt.encode(claims, key["pem"], algorithm=ALGORITHM, headers={"kid": key["kid"], "typ": "JWT"})


def _public_key(kid: str):
    for refresh in (False, True):  # an unknown kid may be a key rotated in by another instance
        for key in ring(refresh=refresh):
            if key["kid"] == kid:
                return serialization.load_pem_private_key(key["pem"].encode(), None).public_key()
    return None


def verify(token: str, audience: str, leeway: int = 0) -> dict:
    """Claims of a token Obelisk signed; raises jwt.PyJWTError otherwise. Only ES256 with a known
    kid is accepted: `alg: none`, HS256 keyed with our public key and the like are refused."""
    header = jwt.get_unverified_header(token)
    if header.get("alg") != ALGORITHM or not header.get("kid"):
        raise jwt.InvalidAlgorithmError("unsupported algorithm")
    key = _public_key(header["kid"])
    if key is None:
        raise jwt.InvalidKeyError("unknown kid")
    return jwt.decode(token, key, algorithms=[ALGORITHM], audience=audience, issuer=settings().api_url,
                      leeway=leeway, options={"require": ["exp", "iat", "iss", "aud", "sub"]})


def jwks() -> dict:
    keys = []
    for key in ring():
        public = serialization.load_pem_private_key(key["pem"].encode(), None).public_key()
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(public))
        keys.append({**jwk, "kid": key["kid"], "alg": ALGORITHM, "use": "sig"})
    return {"keys": keys}
