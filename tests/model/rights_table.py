"""The principal-kind x action table of docs/security.md, computed from the reference model.

`python -m tests.model.rights_table` rewrites the table between the markers in docs/security.md;
tests/unit/test_rights_table.py fails when the committed table differs from what the model says.

The world: alice holds series `I` in her inbox (study 1) and series `B` in album A (study 2),
where she is admin and bob a plain member; carol is in neither. Each cell asks the model one
question on a copy of that world; a cell reads "if <flag>" when the answer follows that album flag."""
from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from tests.model.permissions import FLAGS, Album, Principal, World, inbox, user

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
BEGIN, END = "<!-- rights-table:begin -->", "<!-- rights-table:end -->"
INBOX_SERIES, B = ("1", "I"), ("2", "B")


def world(flags: dict[str, bool]) -> World:
    w = World()
    w.albums["A"] = Album(dict(flags), {"alice", "bob"}, {"alice"})
    w.holders = {INBOX_SERIES: {inbox("alice")}, B: {"A"}}
    w.instances = {INBOX_SERIES: {"i1": "alice"}, B: {"b1": "alice"}}
    assert w.comment(user("alice"), "2", "public note", None)
    return w


def capability(creator: str, album: str | None, *flags: str) -> Callable[[World], Principal]:
    def make(w: World) -> Principal:
        assert w.create_capability(creator, "cap", album, frozenset(flags))
        return Principal("album_capability" if album else "user_capability", "cap")
    return make


def viewer(subject: Callable[[World], Principal], source: str | None) -> Callable[[World], Principal]:
    def make(w: World) -> Principal:
        assert w.exchange(subject(w), "v", "2", source, frozenset({"read"}))
        return Principal("viewer", "v")
    return make


def revoked(make_cap: Callable[[World], Principal]) -> Callable[[World], Principal]:
    def make(w: World) -> Principal:
        p = make_cap(w)
        w.revoke("alice", p.id)
        return p
    return make


PRINCIPALS: dict[str, Callable[[World], Principal]] = {
    "user: album admin (alice)": lambda w: user("alice"),
    "user: plain album member (bob)": lambda w: user("bob"),
    "user: neither (carol)": lambda w: user("carol"),
    "user capability `read`": capability("alice", None, "read"),
    "user capability `read write`": capability("alice", None, "read", "write"),
    "user capability `read write send download`": capability("alice", None, "read", "write", "send", "download"),
    "album capability `read`": capability("alice", "A", "read"),
    "album capability `read send download`": capability("alice", "A", "read", "send", "download"),
    "album capability `write`": capability("alice", "A", "write"),
    "viewer token of B from bob (source album A)": viewer(lambda w: user("bob"), "A"),
    "viewer token of B from an album capability `read`": viewer(capability("alice", "A", "read"), None),
    "album capability `read`, revoked (or creator demoted)": revoked(capability("alice", "A", "read")),
}

ACTIONS: dict[str, Callable[[World, Principal], bool]] = {
    "read B (in album A)": lambda w, p: B in w.readable(p),
    "read I (alice's inbox)": lambda w, p: INBOX_SERIES in w.readable(p),
    "send B to a user": lambda w, p: w.share_series(p, B, "carol"),
    "zip B's study": lambda w, p: bool(w.downloadable(p, "2")),
    "comment on B's study": lambda w, p: w.comment(p, "2", "x", None),
    "read B's comments": lambda w, p: bool(w.comments_seen(p, "2")),
    "create an album": lambda w, p: w.create_album(p, "new", {f: False for f in FLAGS}),
    "add a member to A": lambda w, p: w.add_member(p, "A", "carol"),
    "remove B from A": lambda w, p: w.remove_from_album(p, B, "A"),
    "list albums": lambda w, p: "A" in w.visible_albums(p),
}


def cell(make: Callable[[World], Principal], action: Callable[[World, Principal], bool]) -> str:
    def answer(flags: dict[str, bool]) -> bool:
        w = world(flags)
        return action(w, make(w))
    everything = answer({f: True for f in FLAGS})
    if not everything:
        return "no"
    needed = [f for f in FLAGS if not answer({g: g != f for g in FLAGS})]
    return f"if {', '.join(needed)}" if needed else "yes"


def table() -> str:
    head = ["principal", *ACTIONS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, make in PRINCIPALS.items():
        lines.append("| " + " | ".join([name, *(cell(make, a) for a in ACTIONS.values())]) + " |")
    return "\n".join(lines)


def rendered(document: str) -> str:
    """The document with the model's table between the markers."""
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(document):
        raise ValueError(f"{DOC} lacks the {BEGIN} ... {END} markers")
    return pattern.sub(lambda _: f"{BEGIN}\n{table()}\n{END}", document)


def main() -> int:
    DOC.write_text(rendered(DOC.read_text()))
    print(f"wrote the rights table into {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
