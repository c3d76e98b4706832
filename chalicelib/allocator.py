"""The C allocator (glibc's malloc) set for a server process that handles large buffers request
after request: the API function (a STOW's body, its parts, their pixel data, the objects written)
and the local emulator.

With glibc's defaults a block of over 128 KiB (grown dynamically up to the size of the largest
block freed) is mapped afresh and returned to the kernel when freed, and the top of the heap is
returned once 128 KiB of it are free: every such buffer of the next request is then paged in
again, a page fault for every 4 KiB. In a Firecracker microVM, where Lambda runs its functions
(and where this machine runs), a fault costs a few microseconds; the API faulted ~400 times per
stored instance, ~1.5 ms of its ~6 ms of CPU in system time. And each thread that allocates may
get an arena of its own (up to 8 per core), each keeping its own freed memory: the local API,
a thread per request, held 374 MB after 480 stored instances.

`keep_freed_memory` maps only blocks of over 32 MiB on their own, keeps up to 256 MiB of freed
heap for the next request, and has the process's threads share one arena (the interpreter runs
one thread at a time anyway; with two, a thread given the second arena had its heap deleted and
mapped again, request after request). Measured on `bench.stow`'s load (docs/benchmarks.md, "The
allocator, s10"): ~45 faults per stored instance, 0.7 ms of system time, and 225 MB resident
after the same 480 instances. Where the C library is not glibc, nothing changes."""
from __future__ import annotations

import ctypes

M_TRIM_THRESHOLD = -1  # mallopt parameters (glibc's malloc.h)
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest dynamic threshold on 64-bit systems
TRIM_THRESHOLD = 256 * 1024 * 1024
ARENAS = 1


def keep_freed_memory() -> bool:
    """Sets glibc's thresholds and arenas (see the module); False where there is no glibc `mallopt`."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on (no `ldconfig` run)
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    settings = ((M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD), (M_ARENA_MAX, ARENAS))
    return all([bool(mallopt(parameter, value)) for parameter, value in settings])
