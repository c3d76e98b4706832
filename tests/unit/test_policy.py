"""The permission policy (chalicelib/auth/policy.py) decided from facts held in memory, without a
database, checked against the reference model (tests/model/permissions.py) as the oracle.

The world is the rights table's (tests/model/rights_table.py): alice holds series I in her inbox
(study 1) and series B in album A (study 2), where she is admin and bob a plain member; carol is
in neither; alice left a public comment on study 2 and a private one to bob. For every kind of
principal the model covers (user, user capability, album capability, viewer token), every right
(read, read comments, change, send, download, album permissions, admin) and every album flag
turned off in turn, the policy must answer what the model answers. Report-provider tokens and
reporting sites, which the model does not cover, have tables of their own from
docs/report-providers.md and docs/reporting.md."""
from __future__ import annotations

import functools
from collections.abc import Callable
from types import SimpleNamespace

import pytest

from chalicelib.auth import policy
from chalicelib.auth.facts import FactsValue, using
from chalicelib.auth.principals import ALBUM_CAPABILITY, REPORT_PROVIDER, USER, USER_CAPABILITY, VIEWER, Principal
from chalicelib.errors import Forbidden, NotFound
from chalicelib.store.models import Album, AlbumFlags, AlbumMember, ReportSite, SeriesShare, UserProfile
from tests.model import permissions as model
from tests.model.rights_table import INBOX_SERIES, PRINCIPALS, B, capability, viewer, world

FLAG_FIELDS = {"addUser": "add_user", "downloadSeries": "download_series", "sendSeries": "send_series",
               "deleteSeries": "delete_series", "addSeries": "add_series", "writeComments": "write_comments"}
SCOPE_WORDS = {"read": "read", "write": "write", "send": "send", "download": "downloadbutton"}
JOINED = "2026-01-01T00:00:00.000"


# ---- the model's world as the policy's facts and principals --------------------------------

def profile(name: str) -> UserProfile:
    return UserProfile(*UserProfile.key(name), sub=name, email=f"{name}@example.org", name=name,
                       inbox_id=model.inbox(name), created_at="")


def album_item(album_id: str, album: model.Album) -> Album:
    flags = AlbumFlags(**{FLAG_FIELDS[f]: on for f, on in album.flags.items()})
    return Album(*Album.key(album_id), album_id=album_id, name=album_id, is_inbox=album_id.startswith("inbox:"),
                 flags=flags, created_time=JOINED, last_event_time=JOINED)


def facts_of(w: model.World) -> FactsValue:
    facts = FactsValue()
    for album_id, album in w.albums.items():
        facts.albums[album_id] = album_item(album_id, album)
        for name in album.members:
            facts.members[(album_id, name)] = AlbumMember(*AlbumMember.key(album_id, name), member_sub=name,
                                                          is_admin=name in album.admins, joined_at=JOINED)
    for (study, series), albums in w.holders.items():
        for album_id in albums:
            facts.placements.append(SeriesShare(*SeriesShare.key(album_id, study, series), album_id=album_id,
                                                study_uid=study, series_uid=series, series_album=f"{series}#{album_id}",
                                                added_at=JOINED))
    return facts


def principal_of(w: model.World, p: model.Principal) -> Principal:
    """The principal authentication would hand the policy for the model's principal (a living one:
    revoked capabilities and their viewers are refused before the policy, by authentication)."""
    user = profile(w.acting_user(p))
    if p.kind == "user":
        return Principal(kind=USER, user=user)
    if p.kind == "viewer":
        v = w.viewers[p.id]
        from_album_capability = v.subject.kind == "album_capability"
        return Principal(kind=VIEWER, user=user, scope=frozenset(v.scope), study_uids=frozenset([v.study]),
                         album_id=v.source if v.source and not v.source.startswith("inbox:") else None,
                         inbox_only=bool(v.source and v.source.startswith("inbox:")),
                         capability_id=v.subject.id if v.subject.kind != "user" else None,
                         needs_album_admin=from_album_capability)
    cap = w.capabilities[p.id]
    flags = cap.flags if cap.album else cap.flags & {"read", "write"}  # user capabilities: read, write only
    kind = ALBUM_CAPABILITY if cap.album else USER_CAPABILITY
    return Principal(kind=kind, user=user, scope=frozenset(SCOPE_WORDS[f] for f in flags), album_id=cap.album,
                     capability_id=p.id)


def demoted(make_cap: Callable[[model.World], model.Principal]) -> Callable[[model.World], model.Principal]:
    """The album capability's creator is no longer an admin of its album (still a member)."""
    def make(w: model.World) -> model.Principal:
        p = make_cap(w)
        w.albums[w.capabilities[p.id].album].admins.discard(w.capabilities[p.id].creator)
        return p
    return make


KINDS = {name: make for name, make in PRINCIPALS.items() if "revoked" not in name} | {
    "album capability `read`, creator demoted": demoted(capability("alice", "A", "read")),
    "album capability `read write send download`": capability("alice", "A", "read", "write", "send", "download"),
    "viewer token of B from alice's inbox source": lambda w: inbox_viewer_of_b_since_removed(w),
    "viewer token of B from alice (no source)": viewer(lambda w: model.user("alice"), None),
    "viewer token of B from a user capability `read`": viewer(capability("alice", None, "read"), None),
    "viewer token of B from an album capability whose creator was demoted since": lambda w: demoted_after(
        viewer(capability("alice", "A", "read"), None), w),
}


def inbox_viewer_of_b_since_removed(w: model.World) -> model.Principal:
    """A viewer of B minted from alice's inbox while B was there (the exchange refuses a study the
    source does not hold), B removed from the inbox since."""
    w.holders[B].add(model.inbox("alice"))
    p = viewer(lambda w: model.user("alice"), model.inbox("alice"))(w)
    w.holders[B].discard(model.inbox("alice"))
    return p


def demoted_after(make: Callable[[model.World], model.Principal], w: model.World) -> model.Principal:
    p = make(w)
    w.albums["A"].admins.discard("alice")
    return p


# ---- the rights: (what the policy says, what the model says) -----------------------------------

def succeeds(decision: Callable[[], object]) -> bool:
    try:
        decision()
        return True
    except (Forbidden, NotFound):
        return False


def downloadable(pp: Principal, study: str) -> set[str]:
    try:
        return set(policy.downloadable_series(pp, study, policy.readable_series(pp, study)))
    except (Forbidden, NotFound):
        return set()


PUBLIC_NOTE = SimpleNamespace(author_sub="alice", target_sub=None, series_uids=[B[1]])
PRIVATE_NOTE = SimpleNamespace(author_sub="alice", target_sub="bob", series_uids=[B[1]])  # alice to bob


def album_right(permission: str, flag: str):
    """A changing album permission on A: the model's album table, and (user-level tokens) `write`."""
    def model_says(w, p):
        return w.album_allows(p, "A", flag) and (p.kind == "album_capability" or w.may_change(p))
    return (lambda pp: succeeds(lambda: policy.require_album_permission(pp, "A", permission)), model_says)


RIGHTS: dict[str, tuple[Callable[[Principal], object], Callable[[model.World, model.Principal], object]]] = {
    "read B": (lambda pp: succeeds(lambda: policy.authorize_series_read(pp, *B)), lambda w, p: B in w.readable(p)),
    "read I": (lambda pp: succeeds(lambda: policy.authorize_series_read(pp, *INBOX_SERIES)),
               lambda w, p: INBOX_SERIES in w.readable(p)),
    "read study 2": (lambda pp: set(policy.readable_series(pp, B[0])), lambda w, p: {s for _, s in w.readable_in(p, B[0])}),
    "read comments": (lambda pp: policy.comment_reader(pp, B[0])(PUBLIC_NOTE),
                      lambda w, p: "public note" in w.comments_seen(p, B[0])),
    "read a private comment": (lambda pp: policy.comment_reader(pp, B[0])(PRIVATE_NOTE),
                               lambda w, p: "private note" in w.comments_seen(p, B[0])),
    "change": (lambda pp: policy.may(pp, policy.CHANGE), lambda w, p: w.may_change(p)),
    "send B": (lambda pp: succeeds(lambda: policy.authorize_series_send(pp, *B)), lambda w, p: w.may_send(p, B)),
    "send I": (lambda pp: succeeds(lambda: policy.authorize_series_send(pp, *INBOX_SERIES)),
               lambda w, p: w.may_send(p, INBOX_SERIES)),
    "download study 2": (lambda pp: downloadable(pp, B[0]), lambda w, p: {s for _, s in w.downloadable(p, B[0])}),
    "download study 1": (lambda pp: downloadable(pp, INBOX_SERIES[0]),
                         lambda w, p: {s for _, s in w.downloadable(p, INBOX_SERIES[0])}),
    "add a member to A": album_right(policy.ADD_USER, "addUser"),
    "remove series from A": album_right(policy.DELETE_SERIES, "deleteSeries"),
    "add series to A": album_right(policy.ADD_SERIES, "addSeries"),
    "send from A": (lambda pp: succeeds(lambda: policy.require_album_permission(pp, "A", policy.SEND_SERIES)),
                    lambda w, p: "A" in w.sending_albums(p)),
    "admin A": album_right(policy.DELETE_ALBUM, "admin"),
}

FLAG_VARIANTS = {"all flags on": {f: True for f in model.FLAGS},
                 **{f"{off} off": {f: f != off for f in model.FLAGS} for off in model.FLAGS}}


@functools.cache
def situation(kind: str, variant: str) -> tuple[model.World, model.Principal, FactsValue, Principal]:
    """The world with the album flags of `variant`, the principal of `kind` made in it, and the
    same as the policy's facts and principal (built once, shared by the rights)."""
    w = world(FLAG_VARIANTS[variant])
    assert w.comment(model.user("alice"), B[0], "private note", "bob")
    p = KINDS[kind](w)
    return w, p, facts_of(w), principal_of(w, p)


@pytest.mark.parametrize("right", RIGHTS, ids=RIGHTS.keys())
@pytest.mark.parametrize("kind", KINDS, ids=KINDS.keys())
def test_the_policy_answers_what_the_model_says(kind, right):
    """For each album flag variant: the policy's answer from the facts is the model's."""
    decide, oracle = RIGHTS[right]
    differ = {}
    for variant in FLAG_VARIANTS:
        w, p, facts, principal = situation(kind, variant)
        expected = oracle(w, p)  # the model's questions change nothing
        with using(facts):
            got = decide(principal)
        if got != expected:
            differ[variant] = (got, expected)
    assert not differ, f"(policy, model) differ: {differ}"


def test_the_table_covers_every_kind_the_model_has():
    kinds = {make(world(FLAG_VARIANTS["all flags on"])).kind for make in KINDS.values()}
    assert kinds == {"user", "user_capability", "album_capability", "viewer"}


# ---- report-provider tokens (docs/report-providers.md; not in the model) --------------------------

@pytest.fixture
def provider_world():
    """The rights world plus series C of study 2 in alice's inbox only."""
    w = world({f: True for f in model.FLAGS})
    w.holders[("2", "C")] = {model.inbox("alice")}
    return w


def provider(scope: str = "read", user: str = "alice") -> Principal:
    return Principal(kind=REPORT_PROVIDER, user=profile(user), scope=frozenset(scope.split()), album_id="A",
                     study_uids=frozenset(["2"]), client_id="rp")


PROVIDER_RIGHTS = [  # (right, scope, decision, expected)
    ("reads B, its launched study's series in its album", "read",
     lambda pp: succeeds(lambda: policy.authorize_series_read(pp, *B)), True),
    ("does not read C, of its study but outside its album", "read",
     lambda pp: succeeds(lambda: policy.authorize_series_read(pp, "2", "C")), False),
    ("does not read I, another study", "read",
     lambda pp: succeeds(lambda: policy.authorize_series_read(pp, *INBOX_SERIES)), False),
    ("reads no comments", "read", lambda pp: policy.comment_reader(pp, "2")(PUBLIC_NOTE), False),
    ("changes nothing user-level", "read write", lambda pp: policy.may(pp, policy.CHANGE), False),
    ("sends nothing", "read write", lambda pp: succeeds(lambda: policy.authorize_series_send(pp, *B)), False),
    ("downloads nothing", "read write", lambda pp: downloadable(pp, "2"), set()),
    ("is no admin", "read write", lambda pp: succeeds(lambda: policy.require_album_permission(pp, "A", policy.DELETE_ALBUM)),
     False),
    ("stores into its album with write", "read write", lambda pp: policy.series_add_target(pp, None), "A"),
    ("stores nothing without write", "read", lambda pp: succeeds(lambda: policy.series_add_target(pp, None)), False),
    ("adds to B, a series of its study in its album", "read write",
     lambda pp: policy.may_add_to_series(pp, "2", "B", "A"), True),
    ("adds to no series outside its studies", "read write",
     lambda pp: policy.may_add_to_series(pp, "1", "I", "A"), False),
]


@pytest.mark.parametrize(("right", "scope", "decide", "expected"), PROVIDER_RIGHTS, ids=[r[0] for r in PROVIDER_RIGHTS])
def test_report_provider_tokens(provider_world, right, scope, decide, expected):
    with using(facts_of(provider_world)):
        assert decide(provider(scope)) == expected


def test_a_report_provider_token_dies_when_its_user_leaves_the_album(provider_world):
    provider_world.albums["A"].members.discard("alice")
    with using(facts_of(provider_world)):
        assert policy.readable_series(provider("read write"), "2") == {}
        assert not succeeds(lambda: policy.series_add_target(provider("read write"), None))


# ---- reporting sites (docs/reporting.md; not in the model) ---------------------------------------

SITE = ReportSite(*ReportSite.key("demo"), site_id="demo", admins=["carol@example.org"], origins=[])


@pytest.mark.parametrize(("who", "site_id", "allowed"), [
    ("carol", "demo", True),  # a site admin, named by e-mail
    ("alice", "demo", False),  # not one of its admins
    ("carol", "elsewhere", False),  # no such site
])
def test_reporting_site_launches(provider_world, who, site_id, allowed):
    """Only the site's admins launch; an unknown site and a site one does not administer answer
    one status and one message (docs/reporting.md)."""
    facts = facts_of(provider_world)
    facts.sites["demo"] = SITE
    with using(facts):
        if allowed:
            assert policy.launchable_site(Principal(kind=USER, user=profile(who)), site_id) is SITE
            return
        with pytest.raises(NotFound) as refused:
            policy.launchable_site(Principal(kind=USER, user=profile(who)), site_id)
    assert (refused.value.status, str(refused.value)) == (404, policy.SITE_REFUSAL)


@pytest.mark.parametrize(("principal", "reads"), [
    (Principal(kind=USER, user=profile("carol")), True),  # the demo site's admin
    (Principal(kind=USER, user=profile("bob")), False),
    (Principal(kind=USER_CAPABILITY, user=profile("carol"), scope=frozenset({"read", "write"})), False),
])
def test_a_report_is_read_by_its_sites_admins_and_unknown_to_everyone_else(principal, reads):
    if reads:
        policy.require_report_reader(principal, SITE)
        return
    with pytest.raises(NotFound) as refused:
        policy.require_report_reader(principal, SITE)
    assert (refused.value.status, str(refused.value)) == (404, policy.REPORT_REFUSAL)


def test_a_site_admins_token_of_another_kind_is_refused(provider_world):
    token = Principal(kind=USER_CAPABILITY, user=profile("carol"), scope=frozenset({"read", "write"}))
    with pytest.raises(Forbidden):
        policy.require_site_admin(token, SITE)


@pytest.mark.parametrize(("who", "target"), [
    ("alice", "A"),  # a reader of the study with ADD_SERIES in an album holding it: that album
    ("carol", None),  # a reader of nothing: her inbox
])
def test_a_signed_report_goes_where_its_launcher_may_add_series(provider_world, who, target):
    with using(facts_of(provider_world)):
        assert policy.report_store_target(Principal(kind=USER, user=profile(who)), "2") == target


# ---- study-level listings (what services/search.py builds QIDO answers from) -----------------------

@pytest.mark.parametrize("kind", KINDS, ids=KINDS.keys())
def test_visible_series_is_every_series_the_model_lets_it_read(kind):
    w = world({f: True for f in model.FLAGS})
    p = KINDS[kind](w)
    expected: dict[str, set[str]] = {}
    for study, series in w.readable(p):
        expected.setdefault(study, set()).add(series)
    with using(facts_of(w)):
        visible = policy.visible_series(principal_of(w, p))
    assert {study: set(series) for study, series in visible.items()} == expected


# ---- research albums (docs/research-albums.md, who adds; not in the model) ------------------------

RX, RX_INTAKE = "RX", "RX-intake"


@pytest.fixture
def research_world():
    """Research album RX (every member flag on): alice and carol admins, bob a member. alice's
    series S (study 9) is in her inbox and waits in RX's intake, placed there by alice."""
    w = world({f: True for f in model.FLAGS})
    facts = facts_of(w)
    facts.albums[RX] = album_item(RX, model.Album(flags={f: True for f in model.FLAGS}, members=set(), admins=set()))
    facts.albums[RX].research = {"retain_dates": False}
    for name, admin in (("alice", True), ("carol", True), ("bob", False)):
        facts.members[(RX, name)] = AlbumMember(*AlbumMember.key(RX, name), member_sub=name, is_admin=admin, joined_at=JOINED)
    for album_id, placer in ((model.inbox("alice"), None), (RX_INTAKE, "alice")):
        facts.placements.append(SeriesShare(*SeriesShare.key(album_id, "9", "S"), album_id=album_id, study_uid="9",
                                            series_uid="S", series_album=f"S#{album_id}", added_at=JOINED, placed_by=placer))
    return facts


def rx_token(kind: str, scope: str = "read write", user: str = "alice") -> Principal:
    return Principal(kind=kind, user=profile(user), scope=frozenset(scope.split()), album_id=RX,
                     study_uids=frozenset(["9"]) if kind in (VIEWER, REPORT_PROVIDER) else None)


RESEARCH_RIGHTS = [  # (right, principal, decision, expected)
    ("an admin adds series (into the intake)", lambda: Principal(kind=USER, user=profile("alice")),
     lambda p: policy.series_add_target(p, RX), RX_INTAKE),
    ("an admin's user capability adds series", lambda: rx_token(USER_CAPABILITY),
     lambda p: policy.series_add_target(p, RX), RX_INTAKE),
    ("a member never adds series, addSeries on", lambda: Principal(kind=USER, user=profile("bob")),
     lambda p: succeeds(lambda: policy.series_add_target(p, RX)), False),
    ("a member lacks ADD_SERIES", lambda: Principal(kind=USER, user=profile("bob")),
     lambda p: policy.album_access(p, RX).allows(policy.ADD_SERIES), False),
    ("an album token scoped write adds no series", lambda: rx_token(ALBUM_CAPABILITY),
     lambda p: succeeds(lambda: policy.series_add_target(p, None)), False),
    ("a viewer token scoped write adds no series", lambda: rx_token(VIEWER),
     lambda p: succeeds(lambda: policy.series_add_target(p, RX)), False),
    ("a report provider launched by a member adds no series", lambda: rx_token(REPORT_PROVIDER, user="bob"),
     lambda p: succeeds(lambda: policy.series_add_target(p, None)), False),
    ("a report provider launched by an admin adds series", lambda: rx_token(REPORT_PROVIDER),
     lambda p: policy.series_add_target(p, None), RX_INTAKE),
    ("the sender adds to the series waiting in the intake", lambda: Principal(kind=USER, user=profile("alice")),
     lambda p: policy.may_add_to_series(p, "9", "S", RX_INTAKE), True),
    ("another admin, not reading it, does not", lambda: Principal(kind=USER, user=profile("carol")),
     lambda p: policy.may_add_to_series(p, "9", "S", RX_INTAKE), False),
    ("a member does not", lambda: Principal(kind=USER, user=profile("bob")),
     lambda p: policy.may_add_to_series(p, "9", "S", RX_INTAKE), False),
]


@pytest.mark.parametrize(("right", "who", "decide", "expected"), RESEARCH_RIGHTS, ids=[r[0] for r in RESEARCH_RIGHTS])
def test_who_adds_to_a_research_album(research_world, right, who, decide, expected):
    with using(research_world):
        assert decide(who()) == expected


# ---- decisions routes used to take themselves (audit trail, /userinfo) -------------------------

AUDIT_READERS = [  # (who, album, expected: True or the refusal's class)
    (lambda: Principal(kind=USER, user=profile("alice")), "A", True),  # A's admin
    (lambda: Principal(kind=USER, user=profile("bob")), "A", Forbidden),  # a plain member
    (lambda: Principal(kind=USER, user=profile("carol")), "A", NotFound),  # not in A: as for no album
    (lambda: Principal(kind=USER, user=profile("alice")), model.inbox("alice"), Forbidden),  # an inbox
    (lambda: Principal(kind=ALBUM_CAPABILITY, user=profile("alice"), scope=frozenset({"read", "write"}),
                       album_id="A"), "A", Forbidden),  # not a user-level token
    (lambda: Principal(kind=USER_CAPABILITY, user=profile("alice"), scope=frozenset({"read", "write"})), "A", True),
]


@pytest.mark.parametrize(("who", "album", "expected"), AUDIT_READERS,
                         ids=["admin", "member", "stranger", "inbox", "album token", "admin's user capability"])
def test_only_album_admins_read_the_audit_trail(provider_world, who, album, expected):
    with using(facts_of(provider_world)):
        if expected is True:
            assert policy.require_audit_reader(who(), album).album.album_id == album
            return
        with pytest.raises(expected):
            policy.require_audit_reader(who(), album)


@pytest.mark.parametrize("kind", [USER, USER_CAPABILITY, ALBUM_CAPABILITY, VIEWER, REPORT_PROVIDER])
def test_userinfo_answers_report_provider_tokens_only(kind):
    token = Principal(kind=kind, user=profile("alice"), scope=frozenset({"read"}), album_id="A")
    assert succeeds(lambda: policy.require_userinfo_reader(token)) == (kind == REPORT_PROVIDER)


@pytest.mark.parametrize("kind", [USER, USER_CAPABILITY, ALBUM_CAPABILITY, VIEWER, REPORT_PROVIDER])
def test_an_albums_members_are_listed_to_user_level_tokens_only(kind):
    token = Principal(kind=kind, user=profile("alice"), scope=frozenset({"read"}), album_id="A")
    assert succeeds(lambda: policy.require_member_listing(token)) == (kind in (USER, USER_CAPABILITY))


# ---- decisions services used to take themselves (album edit, adding and removing members) -------

def _member_kinds() -> dict[str, Principal]:
    """One principal per kind, in the provider world: alice admin of A, bob a plain member, carol
    in neither album; every album flag on."""
    def token(kind: str, user: str, scope: str, **extra) -> Principal:
        return Principal(kind=kind, user=profile(user), scope=frozenset(scope.split()), **extra)
    return {
        "alice (user, A's admin)": Principal(kind=USER, user=profile("alice")),
        "bob (user, member)": Principal(kind=USER, user=profile("bob")),
        "carol (user, not in A)": Principal(kind=USER, user=profile("carol")),
        "bob's user capability `read write`": token(USER_CAPABILITY, "bob", "read write"),
        "bob's user capability `read`": token(USER_CAPABILITY, "bob", "read"),
        "alice's album capability on A": token(ALBUM_CAPABILITY, "alice", "read write send downloadbutton",
                                               album_id="A"),
        "alice's viewer token": token(VIEWER, "alice", "read write", album_id="A", study_uids=frozenset(["2"])),
        "alice's report provider on A": token(REPORT_PROVIDER, "alice", "read write", album_id="A",
                                              study_uids=frozenset(["2"]), client_id="rp"),
    }


OK, F, N = True, Forbidden, NotFound
MEMBER_DECISIONS = {  # decision -> the answer for each kind of _member_kinds(), in order
    "edit A's name, description or flags": (lambda pp: policy.require_album_edit(pp, "A", True),
                                            (OK, F, N, F, F, F, N, F)),
    "edit one's own notifications in A": (lambda pp: policy.require_album_edit(pp, "A", False),
                                          (OK, OK, N, OK, F, F, N, F)),
    "add a member to A": (lambda pp: policy.require_member_adder(pp, "A", False), (OK, OK, N, OK, F, F, F, F)),
    "add an admin to A": (lambda pp: policy.require_member_adder(pp, "A", True), (OK, F, N, F, F, F, F, F)),
    "add oneself": (lambda pp: policy.require_addable_member(pp, pp.sub), (F,) * 8),
    "add carol": (lambda pp: policy.require_addable_member(pp, "carol"), (OK, OK, F, OK, OK, OK, OK, OK)),
    "remove someone from A": (lambda pp: policy.require_member_remover(pp, "A"), (OK, OK, N, OK, F, F, F, F)),
}
MEMBER_CASES = [(decision, kind, expected) for decision, (_, answers) in MEMBER_DECISIONS.items()
                for kind, expected in zip(_member_kinds(), answers, strict=True)]


@pytest.mark.parametrize(("decision", "kind", "expected"), MEMBER_CASES,
                         ids=[f"{d}: {k}" for d, k, _ in MEMBER_CASES])
def test_album_edits_and_membership_changes_per_principal_kind(provider_world, decision, kind, expected):
    """403 where the caller reaches the album but may not, 404 where it does not reach it."""
    decide = MEMBER_DECISIONS[decision][0]
    with using(facts_of(provider_world)):
        if expected is True:
            decide(_member_kinds()[kind])
            return
        with pytest.raises(expected) as refused:
            decide(_member_kinds()[kind])
        assert not issubclass(refused.type, NotFound if expected is Forbidden else Forbidden)  # 403 vs 404 exactly


@pytest.mark.parametrize(("remover", "target", "allowed"), [
    ("alice", "bob", True), ("alice", "alice", True),  # the admin removes a member, or leaves
    ("bob", "bob", True), ("bob", "alice", False),  # a plain member leaves, removes nobody else
])
def test_members_leave_and_only_admins_remove_others(provider_world, remover, target, allowed):
    with using(facts_of(provider_world)):
        access = policy.require_member_remover(Principal(kind=USER, user=profile(remover)), "A")
        assert succeeds(lambda: policy.require_removable_member(access, target)) == allowed
        if not allowed:
            with pytest.raises(Forbidden):
                policy.require_removable_member(access, target)


# ---- decisions services used to take themselves (held series, capability tokens, sharing, launches) --

def _service_facts(variant: str) -> FactsValue:
    """The provider world (alice admin of A, bob a member, series B of study 2 in A, C of study 2
    and I of study 1 in alice's inbox), every flag on; or A a research album; or A's sendSeries off."""
    w = world({f: not (variant == "sendSeries off" and f == "sendSeries") for f in model.FLAGS})
    w.holders[("2", "C")] = {model.inbox("alice")}
    facts = facts_of(w)
    if variant == "A a research album":
        facts.albums["A"].research = {"retain_dates": False}
    return facts


def _refusal_or_answer(decide: Callable[[Principal], object], principal: Principal) -> object:
    try:
        return decide(principal)
    except Forbidden:
        return Forbidden
    except NotFound:
        return NotFound


def _token_read(owner: str, album: str | None) -> Callable[[Principal], object]:
    """`GET /capabilities/{id}`: the kind of token (403), then who sees a token of `owner` (404)."""
    def decide(pp: Principal) -> bool:
        policy.require_action(pp, policy.READ_CAPABILITY)
        policy.require_capability_reader(pp, owner, album)
        return True
    return decide


def _provider_launch(study: str) -> Callable[[Principal], object]:
    """A launch of A's report provider for `study`, in the order `report_providers/launch.py` asks."""
    def decide(pp: Principal) -> str:
        policy.require_provider_launcher(pp)
        access = policy.provider_album_access(pp, "A")
        policy.require_launched_study("A", study)
        return policy.provider_launch_scope(access)
    return decide


def _viewer_launch(source: policy.Source) -> Callable[[Principal], object]:
    def decide(pp: Principal) -> str:
        policy.require_viewer_launcher(pp)
        return policy.viewer_launch_scope(pp, "2", source)
    return decide


RW = "read write"
SERVICE_DECISIONS = {  # decision -> (facts variant, decision, the answer for each kind of _member_kinds(), in order)
    # alice, bob, carol, bob's uc `read write`, bob's uc `read`, album capability, viewer, report provider
    "read album A (GET /albums/A)": ("all on", lambda pp: bool(policy.require_album_reader(pp, "A")),
                                     (OK, OK, N, OK, OK, OK, N, OK)),
    "read alice's inbox as an album": ("all on", lambda pp: policy.require_album_reader(pp, model.inbox("alice")),
                                       (N, N, N, N, N, N, N, N)),
    "list or release A's held series": ("A a research album", lambda pp: bool(policy.require_held_series_admin(pp, "A")),
                                        (OK, F, N, F, F, F, F, F)),
    "held series of A, not a research album": ("all on", lambda pp: policy.require_held_series_admin(pp, "A"),
                                               (N, N, N, N, N, F, F, F)),
    "read a token alice made for A": ("all on", _token_read("alice", "A"), (OK, N, N, N, N, F, F, F)),
    "read a token bob made for A (alice is A's admin)": ("all on", _token_read("bob", "A"),
                                                         (OK, OK, N, OK, OK, F, F, F)),
    "read a user token of bob's": ("all on", _token_read("bob", None), (N, OK, N, OK, OK, F, F, F)),
    "list A's tokens": ("all on", lambda pp: bool(policy.require_capability_lister(pp, "A")), (OK, F, N, F, F, F, F, F)),
    "list one's own tokens": ("all on", lambda pp: policy.require_capability_lister(pp, None) is None,
                              (OK, OK, OK, F, F, F, F, F)),
    "share study 2 from A": ("all on", lambda pp: policy.require_study_share(pp, "2", policy.Source(album_id="A")),
                             (["B"], ["B"], N, ["B"], F, ["B"], N, F)),
    "send study 2 from where it is read": ("all on", lambda pp: policy.require_study_send(pp, "2", policy.ANYWHERE),
                                           (["B", "C"], ["B"], N, ["B"], F, ["B"], F, F)),
    "send study 2, A's sendSeries off": ("sendSeries off",
                                         lambda pp: policy.require_study_send(pp, "2", policy.ANYWHERE),
                                         (["B", "C"], F, N, F, F, ["B"], F, F)),
    "send (or claim) series B": ("all on", lambda pp: policy.series_send_or_claim(pp, None, "2", "B"),
                                 (OK, OK, N, OK, N, OK, N, N)),
    "claim series Z, stored nowhere": ("all on", lambda pp: policy.series_send_or_claim(pp, None, "2", "Z"),
                                       (False,) * 8),
    "remove series B (from the inbox, or the token's album)": (
        "all on", lambda pp: policy.removal_album(pp, "2", "B") or "inbox",
        ("inbox", "inbox", "inbox", "inbox", F, "A", F, F)),
    "launch A's report provider for study 2": ("all on", _provider_launch("2"), (RW, RW, F, RW, F, F, F, F)),
    "launch A's report provider for study 1, not in A": ("all on", _provider_launch("1"), (N, N, F, N, F, F, F, F)),
    "launch the viewer on study 2 from A": ("all on", _viewer_launch(policy.Source(album_id="A")),
                                            (RW, RW, N, RW, "read", F, F, F)),
    "launch the viewer on study 2 from the inbox": ("all on", _viewer_launch(policy.Source(inbox=True)),
                                                    (RW, N, N, N, N, F, F, F)),
}
SERVICE_CASES = [(decision, kind, expected) for decision, (_, _, answers) in SERVICE_DECISIONS.items()
                 for kind, expected in zip(_member_kinds(), answers, strict=True)]


@pytest.mark.parametrize(("decision", "kind", "expected"), SERVICE_CASES,
                         ids=[f"{d}: {k}" for d, k, _ in SERVICE_CASES])
def test_service_decisions_per_principal_kind(decision, kind, expected):
    """What the services ask the policy before acting: 403 (F) where the caller reaches the thing
    but may not, 404 (N) where it does not reach it, else the answer they act on."""
    variant, decide, _ = SERVICE_DECISIONS[decision]
    with using(_service_facts(variant)):
        assert _refusal_or_answer(decide, _member_kinds()[kind]) == expected
