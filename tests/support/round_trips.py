"""Round trips a request waited on, read from the emulator's timeline (`/_emulator/timeline`):
what the cost tests pin when a request sends independent DynamoDB reads at once."""
from __future__ import annotations

import requests

# A loaded CI machine (3 test workers on 2 cores) once started the second of two reads sent at once
# ~100 ms after the first (s12): 50 ms held was not enough for them to overlap.
HELD = 0.25


def timed(stack, send):
    """What `send()` returns, and the emulator's requests meanwhile, each DynamoDB request held
    `HELD` seconds as a network would: requests sent at once then overlap however fast each is
    answered, and however late a loaded machine starts the thread that sends the second."""
    emulator = stack.emulator_url
    requests.post(f"{emulator}/_emulator/latency", json={"seconds": HELD}, timeout=60)
    try:
        sent = send()
        return sent, requests.get(f"{emulator}/_emulator/timeline", timeout=60).json()
    finally:
        requests.post(f"{emulator}/_emulator/latency", json={"seconds": 0}, timeout=60)


def rounds(timeline: list[list]) -> int:
    """The longest chain of DynamoDB requests in which each arrived after the one before was
    answered: the round trips the caller waited for one after the other (requests it sent at
    once are in no chain together; the emulator answers them one at a time, so never fewer)."""
    asked = sorted((r for r in timeline if r[0].startswith("dynamodb:")), key=lambda r: r[1])
    longest: list[int] = []
    for j, (_, arrived, _) in enumerate(asked):
        longest.append(1 + max((longest[i] for i in range(j) if asked[i][2] <= arrived), default=0))
    return max(longest, default=0)
