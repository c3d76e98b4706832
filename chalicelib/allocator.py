"""The C allocator (glibc's malloc) set for a server process that handles large buffers request
after request: the API function (a STOW's body, its parts, their pixel data, the objects written)
and the local emulator.

With glibc's defaults a block of over 128 KiB (grown dynamically up to the size of the largest
block freed) is mapped afresh and returned to the kernel when freed, and the top of the heap is
returned once 128 KiB of it are free: every such buffer of the next request is then paged in
again, a page fault for every 4 KiB. In a Firecracker microVM, where Lambda runs its functions
(and where this machine runs), a fault costs several microseconds; the API faulted ~400 times per
stored instance, ~1.8 ms of its ~8 ms of CPU in system time (docs/benchmarks.md, "The allocator,
s10"). `keep_freed_memory` maps only blocks of over 32 MiB on their own and keeps up to 256 MiB of
freed heap for the next request; the process's peak is unchanged (it holds what the largest
request needed, as it did while serving it). Where the C library is not glibc, nothing changes."""
from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1  # mallopt parameters (glibc's malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest dynamic threshold on 64-bit systems
TRIM_THRESHOLD = 256 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Sets glibc's thresholds (see the module); False where there is no glibc `mallopt`."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
