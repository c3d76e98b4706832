"""Per-request costs of moto's server that AWS does not have and that change no answer.

`DomainDispatcherApplication.get_backend_for_host` asks `moto.backends.list_of_moto_modules()`,
twice per request, whether the host is a moto service: that lists moto's package folder and
stats its ~180 entries each time (about 1.5 ms of the emulator's CPU per request, a third of an
S3 PutObject's). The folder does not change while the emulator runs, so it is listed once. Nothing
here takes or needs `ONE_AT_A_TIME`: the list is computed once, before the server starts."""
from __future__ import annotations

import moto.backends as backends


def install() -> None:
    """`list_of_moto_modules` answers from one listing of moto's folder."""
    original = backends.list_of_moto_modules
    if getattr(original, "obelisk_patched", False):
        return
    modules = tuple(original())

    def list_of_moto_modules():
        return iter(modules)

    list_of_moto_modules.obelisk_patched = True
    backends.list_of_moto_modules = list_of_moto_modules
