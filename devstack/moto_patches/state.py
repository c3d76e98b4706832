"""The emulator's saved state: moto's backends pickled to one file (`.obelisk/emulator.pickle`).

A pickle of moto's backends is only readable by the moto release that wrote it (its classes and
their attributes), so the file carries a stamp: `{"format": STATE_FORMAT, "moto": <version>,
"backends": {service: backend dict}}`. Loading checks it: a file written by another moto release or
in an unknown format is refused with what to do (`make wipe`); a file from before the stamp
(format 0: the bare backends dict, always written by moto 5.2.5, the only release ever pinned) is
read as format 1 and re-saved stamped at the next save.

The local stack runs S3 in an emulator process of its own (`devstack/emulator.py`), which keeps
S3's backend in `emulator-s3.pickle` and the other process everything else: each saves and loads
only its `services`. A file written before the split (S3 inside `emulator.pickle`) is read by
both, each taking its own services, so `make run` after an upgrade keeps every stored object."""
from __future__ import annotations

import copyreg
import os
import pickle
import sys
import tempfile
import threading

from cryptography.hazmat.bindings._rust import openssl
from cryptography.hazmat.primitives import serialization

from devstack.moto_patches import MOTO_VERSION

STATE_FORMAT = 1
UNSTAMPED_MOTO = "5.2.5"  # the release that wrote every unstamped (format 0) file
PERSISTED_SERVICES = ("dynamodb", "s3", "sqs", "cognitoidp", "ssm", "secretsmanager", "cloudformation")
S3_SERVICES = ("s3",)
NOT_S3_SERVICES = tuple(name for name in PERSISTED_SERVICES if name not in S3_SERVICES)



def _load_rsa_key(pem: bytes):
    return serialization.load_pem_private_key(pem, None)


def _reduce_rsa_key(key):
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return _load_rsa_key, (pem,)


copyreg.pickle(openssl.rsa.RSAPrivateKey, _reduce_rsa_key)
# Backends hold locks; a restored backend gets fresh ones.
copyreg.pickle(type(threading.RLock()), lambda _lock: (threading.RLock, ()))
copyreg.pickle(type(threading.Lock()), lambda _lock: (threading.Lock, ()))


def _versioned_keys(pairs: list) -> object:
    from moto.s3.utils import _VersionedKeyStore

    store = _VersionedKeyStore()
    for name, versions in pairs:
        store.setlist(name, versions)
    return store


def _reduce_versioned_keys(store):
    """A bucket's keys with every version of each (noncurrent ones and delete markers too): pickled
    as a dict, moto's key store gave only each key's latest, so a restart lost what a versioned
    bucket keeps of overwritten and deleted objects (round 18's F2)."""
    return _versioned_keys, ([(name, list(store.getlist(name))) for name in dict.keys(store)],)


def _register_versioned_keys() -> None:
    from moto.s3.utils import _VersionedKeyStore

    copyreg.pickle(_VersionedKeyStore, _reduce_versioned_keys)


_register_versioned_keys()


class SavedStateError(RuntimeError):
    """The saved state cannot be read by this emulator."""


def stamped(backends: dict, moto_version: str = MOTO_VERSION) -> dict:
    return {"format": STATE_FORMAT, "moto": moto_version, "backends": backends}


def backends_of(saved, path: str = "", moto_version: str = MOTO_VERSION) -> dict:
    """The backends of an unpickled state file, after checking its stamp."""
    where = path or "the saved state"
    if isinstance(saved, dict) and "format" not in saved:
        saved = stamped(saved, UNSTAMPED_MOTO)  # format 0 -> 1: the bare backends dict
        print(f"{where} has no stamp (saved before stamps existed, by moto {UNSTAMPED_MOTO}): read as "
              f"state format {STATE_FORMAT}, and saved stamped from now on", file=sys.stderr, flush=True)
    if not isinstance(saved, dict) or saved.get("format") != STATE_FORMAT:
        found = saved.get("format") if isinstance(saved, dict) else type(saved).__name__
        raise SavedStateError(f"{where} is in state format {found!r}; this emulator reads format {STATE_FORMAT}. "
                              "`make wipe` (or delete the file) to start from an empty emulator")
    if saved.get("moto") != moto_version:
        raise SavedStateError(f"{where} was saved by moto {saved.get('moto')} and this emulator runs moto "
                              f"{moto_version}: a pickle of moto's backends is readable only by the release "
                              f"that wrote it. `make wipe` (or delete the file) to start afresh, or "
                              f"reinstall moto {saved.get('moto')} to keep the data")
    return saved["backends"]


def load(path: str, services: tuple[str, ...] = PERSISTED_SERVICES) -> None:
    """Puts the saved backends of `services` in place of moto's live ones (nothing when there is
    no file); the file's other services are left alone."""
    from moto.backends import get_backend

    if not path or not os.path.exists(path):
        return
    with open(path, "rb") as handle:
        try:
            saved = pickle.load(handle)
        except Exception as error:  # classes renamed or moved by another moto release
            raise SavedStateError(f"{path} cannot be unpickled ({error!r}); it was probably saved by another "
                                  "moto release. `make wipe` (or delete the file) to start afresh") from error
    for name, backend_dict in backends_of(saved, path).items():
        if name not in services:
            continue
        live = get_backend(name)
        for account in list(backend_dict.keys()):
            live[account] = backend_dict[account]


def save(path: str, services: tuple[str, ...] = PERSISTED_SERVICES) -> None:
    """Writes the backends of `services`, stamped, atomically (a temporary file, then rename)."""
    from moto.backends import get_backend

    state = stamped({name: get_backend(name) for name in services})
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".emulator-")
    try:
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(state, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
