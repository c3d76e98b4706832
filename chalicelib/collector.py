"""Python's cyclic garbage collector, set for a server process whose large heap is loaded once and
then changes slowly: the API function (Lambda keeps its instance between invocations) and the
local emulator.

What is loaded when `collect_less` runs (the modules, botocore's service data, pydicom's
dictionaries; for the emulator moto's models and its saved state) is frozen out of every
collection (`gc.freeze`; it is still freed by reference counting), and collections run every
50,000 allocations instead of Python's 700, middle and full ones 20 and 10 times rarer than young
ones. Cycles are still collected, later; nothing else changes. Measured (docs/benchmarks.md,
"Where issue 23 stands (ninth session)" and "The emulator's CPU per stored instance, s9"): with
Python's defaults the collector took ~0.6 ms of the API's CPU per stored instance and ~3 ms of
the emulator's (0.8 s of its 4 s in a `bench.stow` session, most of it in full collections
scanning the whole heap); with these settings almost none, for ~30 MB more at peak in the emulator."""
from __future__ import annotations

import gc

THRESHOLDS = (50_000, 20, 10)  # allocations per young collection; young per middle; middle per full


def collect_less() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
