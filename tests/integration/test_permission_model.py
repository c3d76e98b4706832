"""The real stack against the reference model of who may do what (tests/model/permissions.py).

A Hypothesis state machine has alice, bob, carol and the tokens they make (user and album
capabilities, viewer tokens) upload, share, build albums, comment, revoke and exchange tokens;
the model decides what each step may do. After every step that sent a changing request, every
principal's study list (QIDO with includefield=all), and every principal's instances and comments
of the study the step touched, must answer exactly what the model allows; a `read` rule adds
metadata, WADO, rendered, zip, comments, album lists and album events. A divergence fails with
the steps that led to it, shrunk.

`make test` runs a fixed-seed default of about 300 steps; `MODEL_PROFILE=long` (`make model-long`)
runs at least 5,000.

Cost: the checks after a step are most of the requests (every principal's study list, and its
instances and comments of the touched study), and a study list costs one query per album the
user belongs to. So each example plays with a cast of users of its own (fresh accounts named
alice-N, bob-N, carol-N; the model still calls them alice, bob and carol): an example starts
from an empty world as the model does, and the cost of a step does not grow with the examples
before it. The checks run after every step that sent a changing request; a step that only read
(or sent nothing) changed nothing to check, and the end of each example checks once more."""
from __future__ import annotations

import copy
import io
import itertools
import json
import os
import re
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pydicom
import pytest
import requests
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from pydicom.uid import generate_uid

from devstack import bootstrap
from tests.integration.dicom_samples import load, part10
from tests.model.permissions import DEFAULT_FLAGS, FLAGS, USERS, Principal, World, inbox, user

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
STUDIES, SERIES_PER_STUDY = 3, 2
MAX_CAPABILITIES, MAX_VIEWERS, MAX_ALBUMS = 4, 4, 3

settings.register_profile("default", max_examples=10, stateful_step_count=32, derandomize=True, deadline=None,
                          suppress_health_check=list(HealthCheck), print_blob=False)
settings.register_profile("long", max_examples=170, stateful_step_count=30, derandomize=False, deadline=None,
                          suppress_health_check=list(HealthCheck), print_blob=True)
PROFILE = settings.get_profile(os.environ.get("MODEL_PROFILE", "default"))
if os.environ.get("MODEL_NO_SHRINK"):  # a quick look at which divergences exist
    PROFILE = settings(PROFILE, phases=[Phase.explicit, Phase.reuse, Phase.generate])

# Rules whose refusals by the stack (where the model allows) are noted and the model rolled back,
# so that a run can look past a known divergence, e.g. MODEL_TOLERATE=upload.
# MODEL_SURVEY=1: note every kind of divergence (its first occurrence) and go on, then fail
# listing them all: a map of what differs, unshrunk; without it the first divergence fails, shrunk.
SURVEY = os.environ.get("MODEL_SURVEY") == "1"
SURVEYED: dict[str, str] = {}
STEPS = [0]
OUTCOMES: dict[str, int] = {}  # "rule allowed|refused" -> count, printed after a run
TOLERATE = set(filter(None, os.environ.get("MODEL_TOLERATE", "").split(",")))
IDENTITY_MARK = "MODEL"  # every identity value a user sends contains NAME + MODEL


def identity_values(name: str) -> dict[str, str]:
    mark = name.upper() + IDENTITY_MARK
    return {"PatientName": f"{mark}^P", "PatientID": f"{mark}ID", "StudyDescription": f"{mark} study",
            "AccessionNumber": f"{mark[:10]}A"}


def survey_kind(what: str) -> str:
    """The kind of principal a divergence message starts with, and which side allowed."""
    kind = ("viewer" if what.startswith("viewer") else "album capability" if re.match(r"\S+ album A\d+ capability", what)
            else "user capability" if re.match(r"\S+ user capability", what) else "user")
    side = "stack allows" if what.endswith("model refuses it") else \
        "stack refuses" if what.endswith("model allows it") else "answer"
    return f"{kind}, {side}"


class Divergence(AssertionError):
    """The stack and the model disagree; one subclass per rule or read, so that Hypothesis
    reports (and shrinks) each kind of divergence separately."""


def divergence_in(where: str) -> type[Divergence]:
    if where not in _KINDS:
        _KINDS[where] = type(f"Divergence_{where}", (Divergence,), {})
    return _KINDS[where]


_KINDS: dict[str, type[Divergence]] = {}


class Cast:
    """Fresh accounts for each example: model name -> (token, e-mail), each signed in and
    registered (created in the test pool as tests/integration/test_identity.py does)."""

    PASSWORD = "Model-cast-2026!"

    def __init__(self, stack, http: Http):
        self.stack, self.http = stack, http
        self.idp = bootstrap.aws_client("cognito-idp", stack.emulator_url)
        self.numbers = itertools.count()

    def _account(self, username: str) -> tuple[str, str]:
        address = f"{username}@example.org"
        self.idp.admin_create_user(UserPoolId=self.stack.identity["user_pool_id"], Username=username,
                                   MessageAction="SUPPRESS", UserAttributes=[
                                       {"Name": "email", "Value": address}, {"Name": "email_verified", "Value": "true"},
                                       {"Name": "name", "Value": username}])
        self.idp.admin_set_user_password(UserPoolId=self.stack.identity["user_pool_id"], Username=username,
                                         Password=self.PASSWORD, Permanent=True)
        token = self.stack.token(username, self.PASSWORD)
        assert self.http.call(token, "GET", "/inboxinfo").status_code == 200
        return token, address

    def new(self) -> dict[str, tuple[str, str]]:
        """The first cast one by one (the API's first requests load its code: in parallel on a
        busy machine they took 15 s each), the others in parallel."""
        number = next(self.numbers)
        run = map if number == 0 else self.http.pool.map
        accounts = run(lambda n: self._account(f"{n}-{number}"), USERS)
        return dict(zip(USERS, accounts, strict=True))


class Http:
    """One pooled session; each call names its token."""

    def __init__(self, api_url: str):
        self.api = api_url
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=8)
        self.session.mount("http://", adapter)
        self.pool = ThreadPoolExecutor(4)

    def call(self, token: str | None, method: str, path: str, **kwargs) -> requests.Response:
        headers = {**kwargs.pop("headers", {}), **({"Authorization": f"Bearer {token}"} if token else {})}
        kwargs.setdefault("allow_redirects", False)
        return self.session.request(method, self.api + path, headers=headers, timeout=60, **kwargs)


def ok(response: requests.Response) -> bool:
    return 200 <= response.status_code < 400


def body_json(response: requests.Response):
    return response.json() if response.status_code == 200 and response.content else []


def value(row: dict, tag: str):
    return (row.get(tag, {}).get("Value") or [None])[0]


class PermissionMachine(RuleBasedStateMachine):
    http: Http
    cast: Cast
    template: pydicom.Dataset

    @initialize()
    def fresh_world(self):
        self.world = World()
        accounts = self.cast.new()
        self.user_tokens = {n: token for n, (token, _) in accounts.items()}
        self.emails = {n: address for n, (_, address) in accounts.items()}
        self.tokens: dict[Principal, str] = {user(n): self.user_tokens[n] for n in USERS}
        self.changed = True  # a request that may change state was sent since the last check
        self.studies = [generate_uid() for _ in range(STUDIES)]
        self.series = {s: [generate_uid() for _ in range(SERIES_PER_STUDY)] for s in self.studies}
        self.sops: dict[str, set[str]] = {s: set() for s in self.studies}  # every SOP ever stored, per study
        self.sop_series: dict[str, str] = {}
        self.album_ids: list[str] = []
        self.viewer_count = 0
        self.comment_count = 0
        self.touched: str | None = None
        self.log: list[str] = []
        for index, name in enumerate(USERS):  # material to share from the first step: Sn/X0 is n's
            self.upload(USERS.index(name), index, 0)
        # alice's album A0 that lets nothing out: bob reads S0/X0 there, may neither send nor zip it
        self.create_album(0, send=False, download=False, add_user=False)
        self.membership(0, 0, "bob", "add")
        self.add_series_to_album(0, 0, 0)

    # ---- helpers -------------------------------------------------------------------------

    def email(self, name: str) -> str:
        return self.emails[name]

    def principals(self) -> list[Principal]:
        return list(self.tokens)

    def pick(self, index: int, kinds: tuple[str, ...] = ("user", "user_capability", "album_capability", "viewer")
             ) -> Principal:
        """A kind first, then one of that kind: tokens are picked as often as users."""
        present = [k for k in kinds if any(p.kind == k for p in self.principals())]
        kind = present[index % len(present)]
        chosen = [p for p in self.principals() if p.kind == kind]
        return chosen[(index // len(present)) % len(chosen)]

    def name(self, p: Principal) -> str:
        if p.kind == "user":
            return p.id
        if p.kind == "viewer":
            viewer = self.world.viewers[p.id]
            return f"viewer {p.id} (of {self.name(viewer.subject)}, study {self.study_name(viewer.study)}, " \
                   f"source {self.source_name(viewer.source)}, scope {sorted(viewer.scope)})"
        cap = self.world.capabilities[p.id]
        where = f"album {self.album_name(cap.album)}" if cap.album else "user"
        return f"{cap.creator}'s {where} capability {sorted(cap.flags)}"

    def study_name(self, study: str) -> str:
        return f"S{self.studies.index(study)}"

    def series_name(self, series: tuple[str, str]) -> str:
        return f"{self.study_name(series[0])}/X{self.series[series[0]].index(series[1])}"

    def album_name(self, album_id: str | None) -> str:
        return f"A{self.album_ids.index(album_id)}" if album_id in self.album_ids else str(album_id)

    def source_name(self, source: str | None) -> str:
        return "none" if source is None else source if source.startswith("inbox:") else self.album_name(source)

    def step(self, text: str, response: requests.Response, allowed: bool, study: str | None = None) -> None:
        """Record the step; the stack must succeed exactly when the model allows."""
        self.log.append(f"{text} -> {response.status_code} (model: {'allowed' if allowed else 'refused'})")
        STEPS[0] += 1
        if study is not None:
            self.touched = study
        rule_name = sys._getframe(1).f_code.co_name
        outcome = f"{rule_name} {'allowed' if allowed else 'refused'}"
        OUTCOMES[outcome] = OUTCOMES.get(outcome, 0) + 1
        if allowed and not ok(response) and rule_name in TOLERATE:
            self.world = self.before  # the stack did nothing: so does the model
            return
        self.check(ok(response) == allowed, rule_name,
                   f"{text}: the stack answered {response.status_code} {response.text[:200]!r}; "
                   f"the model {'allows' if allowed else 'refuses'} it")

    def check(self, holds: bool, where: str, what: str) -> None:
        if not holds and SURVEY:
            SURVEYED.setdefault(f"{where} by {survey_kind(what)}", "\n  ".join(["DIVERGENCE: " + what, "steps:", *self.log]))
        elif not holds:
            raise divergence_in(where)("\n  ".join(["DIVERGENCE: " + what, "steps:", *self.log]))

    def call(self, p: Principal, method: str, path: str, **kwargs) -> requests.Response:
        if method != "GET":
            self.before = copy.deepcopy(self.world)
            self.changed = True
        return self.http.call(self.tokens[p], method, path, **kwargs)

    def live_albums(self) -> list[str]:
        return [a for a in self.album_ids if a in self.world.albums]

    def choose_series(self, p: Principal, index: int) -> tuple[str, str]:
        """A series p reads (even indices: Hypothesis's simplest choices), else any: steps that may
        succeed, and some that may not."""
        everything = [(study, series) for study in self.studies for series in self.series[study]]
        readable = sorted(self.world.readable(p))
        pool = readable if readable and not index % 2 else everything
        return pool[(index // 2) % len(pool)]

    def choose_study(self, p: Principal, index: int) -> str:
        return self.choose_series(p, index)[0]

    def choose_admin_album(self, name: str, index: int) -> str:
        """An album `name` administers (even indices), else any live one."""
        mine = [a for a in self.live_albums() if name in self.world.albums[a].admins]
        pool = mine if mine and not index % 2 else self.live_albums()
        return pool[(index // 2) % len(pool)]

    def choose_album(self, p: Principal, index: int) -> str:
        """An album of the acting user (even indices), else any live one."""
        mine = [a for a in self.live_albums() if self.world.acting_user(p) in self.world.albums[a].members]
        pool = mine if mine and not index % 2 else self.live_albums()
        return pool[(index // 2) % len(pool)]

    # ---- uploads and sharing ---------------------------------------------------------------

    @rule(who=st.integers(0, 20), study=st.integers(0, STUDIES - 1), series=st.integers(0, SERIES_PER_STUDY - 1))
    def upload(self, who, study, series):
        p = self.pick(who, ("user", "user_capability"))
        study_uid = self.studies[study]
        key = (study_uid, self.series[study_uid][series])
        seen = self.world.identities_seen(p, study_uid)
        if len(seen) > 1:
            return  # the study already shows two identities to the caller: any value conflicts
        identity = next(iter(seen)) if seen else self.world.acting_user(p)
        dataset = copy.deepcopy(self.template)
        dataset.StudyInstanceUID, dataset.SeriesInstanceUID = key
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        for keyword, text in identity_values(identity).items():
            setattr(dataset, keyword, text)
        response = self.call(p, "POST", "/studies", data=part10(dataset),
                             headers={"Content-Type": "application/dicom", "Accept": "application/dicom+json"})
        allowed = self.world.store(p, key, str(dataset.SOPInstanceUID), identity)
        if response.status_code == 200:
            self.sops[study_uid].add(str(dataset.SOPInstanceUID))
            self.sop_series[str(dataset.SOPInstanceUID)] = key[1]
        self.step(f"{self.name(p)} STOWs an instance into {self.series_name(key)} as {identity}", response,
                  allowed, study_uid)

    @rule(who=st.integers(0, 20), study=st.integers(0, 20), to=st.sampled_from(USERS),
          source=st.integers(0, MAX_ALBUMS))
    def share_study(self, who, study, to, source):
        p = self.pick(who)
        study_uid = self.world.viewers[p.id].study if p.kind == "viewer" else self.choose_study(p, study)
        if p.kind == "album_capability":
            source_id, params = self.world.capabilities[p.id].album, {}
        elif p.kind == "viewer":  # a viewer names its own source, as a viewer's client would
            source_id = self.world.viewers[p.id].source or inbox(self.world.acting_user(p))
            params = {"inbox": "true"} if source_id.startswith("inbox:") else {"album": source_id}
        elif source == MAX_ALBUMS or not self.album_ids:
            source_id, params = inbox(self.world.acting_user(p)), {"inbox": "true"}
        else:
            source_id = self.album_ids[source % len(self.album_ids)]
            params = {"album": source_id}
        response = self.call(p, "PUT", f"/studies/{study_uid}/users/{self.email(to)}", params=params)
        allowed = self.world.share_study(p, study_uid, to, source_id)
        self.step(f"{self.name(p)} shares study {self.study_name(study_uid)} from {self.source_name(source_id)} "
                  f"with {to}", response, allowed, study_uid)

    @rule(who=st.integers(0, 20), series=st.integers(0, 20),
          to=st.sampled_from(USERS))
    def share_series(self, who, series, to):
        p = self.pick(who)
        key = self.choose_series(p, series)
        response = self.call(p, "PUT", f"/studies/{key[0]}/series/{key[1]}/users/{self.email(to)}")
        allowed = self.world.share_series(p, key, to)
        self.step(f"{self.name(p)} shares series {self.series_name(key)} with {to}", response, allowed, key[0])

    @precondition(lambda self: self.live_albums())
    @rule(who=st.integers(0, 20), series=st.integers(0, 20),
          album=st.integers(0, 2 * MAX_ALBUMS))
    def add_series_to_album(self, who, series, album):
        p = self.pick(who)
        key = self.choose_series(p, series)
        album_id = self.choose_album(p, album)
        response = self.call(p, "PUT", f"/studies/{key[0]}/series/{key[1]}/albums/{album_id}")
        allowed = self.world.add_series_to_album(p, key, album_id)
        self.step(f"{self.name(p)} puts series {self.series_name(key)} into album {self.album_name(album_id)}",
                  response, allowed, key[0])

    @rule(who=st.integers(0, 20), series=st.integers(0, 20))
    def remove_from_inbox(self, who, series):
        p = self.pick(who, ("user", "user_capability"))
        key = self.choose_series(p, series)
        response = self.call(p, "DELETE", f"/studies/{key[0]}/series/{key[1]}")
        allowed = self.world.remove_from_inbox(p, key)
        self.step(f"{self.name(p)} removes series {self.series_name(key)} from the inbox", response, allowed, key[0])

    @precondition(lambda self: self.live_albums())
    @rule(who=st.integers(0, 20), series=st.integers(0, 20),
          album=st.integers(0, 2 * MAX_ALBUMS))
    def remove_from_album(self, who, series, album):
        p = self.pick(who, ("user", "user_capability"))
        key = self.choose_series(p, series)
        album_id = self.choose_album(p, album)
        response = self.call(p, "DELETE", f"/studies/{key[0]}/series/{key[1]}/albums/{album_id}")
        allowed = self.world.remove_from_album(p, key, album_id)
        self.step(f"{self.name(p)} removes series {self.series_name(key)} from album {self.album_name(album_id)}",
                  response, allowed, key[0])

    @rule(who=st.integers(0, 20), study=st.integers(0, 20), private_to=st.sampled_from((None, *USERS)))
    def comment(self, who, study, private_to):
        p = self.pick(who)
        study_uid = self.choose_study(p, study)
        self.comment_count += 1
        text = f"comment {self.comment_count}"
        form = {"comment": text, **({"to_user": self.email(private_to)} if private_to else {})}
        response = self.call(p, "POST", f"/studies/{study_uid}/comments", data=form)
        allowed = self.world.comment(p, study_uid, text, private_to)
        self.step(f"{self.name(p)} posts {text!r}" + (f" privately to {private_to}" if private_to else "")
                  + f" on {self.study_name(study_uid)}", response, allowed, study_uid)

    # ---- albums ------------------------------------------------------------------------------

    @precondition(lambda self: len(self.album_ids) < MAX_ALBUMS)
    @rule(who=st.integers(0, 20), send=st.booleans(), download=st.booleans(), add_user=st.booleans())
    def create_album(self, who, send, download, add_user):
        p = self.pick(who, ("user", "user_capability", "album_capability", "viewer"))
        flags = {**DEFAULT_FLAGS, "sendSeries": send, "downloadSeries": download, "addUser": add_user}
        form = {"name": "model", **{k: str(v).lower() for k, v in flags.items()}}
        response = self.call(p, "POST", "/albums", data=form)
        album_id = response.json()["album_id"] if response.status_code == 201 else f"refused{len(self.album_ids)}"
        allowed = self.world.create_album(p, album_id, flags)
        if allowed or response.status_code == 201:
            self.album_ids.append(album_id)
        self.step(f"{self.name(p)} creates album {self.album_name(album_id)} with sendSeries={send} "
                  f"downloadSeries={download} addUser={add_user}", response, allowed)

    @precondition(lambda self: self.live_albums())
    @rule(who=st.integers(0, 20), album=st.integers(0, 2 * MAX_ALBUMS), flag=st.sampled_from(FLAGS), on=st.booleans())
    def edit_flag(self, who, album, flag, on):
        p = self.pick(who, ("user", "user_capability"))
        album_id = self.choose_album(p, album)
        response = self.call(p, "PATCH", f"/albums/{album_id}", data={flag: str(on).lower()})
        allowed = self.world.edit_flags(p, album_id, {flag: on})
        self.step(f"{self.name(p)} sets {flag}={on} on album {self.album_name(album_id)}", response, allowed)

    @precondition(lambda self: self.live_albums())
    @rule(who=st.integers(0, 20), album=st.integers(0, 2 * MAX_ALBUMS), to=st.sampled_from(USERS),
          action=st.sampled_from(("add", "remove", "promote", "demote")))
    def membership(self, who, album, to, action):
        target = to
        p = self.pick(who, ("user", "user_capability"))
        album_id = self.choose_album(p, album)
        actor = self.world.acting_user(p)
        members = self.world.albums[album_id].members
        if (action in ("add", "promote") and target == actor) or (action == "add" and target in members):
            return  # adding yourself is refused by design; adding a member changes nothing
        path = f"/albums/{album_id}/users/{self.email(target)}" + ("/admin" if action in ("promote", "demote") else "")
        method = "PUT" if action in ("add", "promote") else "DELETE"
        response = self.call(p, method, path)
        allowed = {"add": lambda: self.world.add_member(p, album_id, target),
                   "remove": lambda: self.world.remove_member(p, album_id, target),
                   "promote": lambda: self.world.set_admin(p, album_id, target, True),
                   "demote": lambda: self.world.set_admin(p, album_id, target, False)}[action]()
        verb = "leaves" if action == "remove" and target == actor else f"{action}s {target} in"
        self.step(f"{self.name(p)} {verb} album {self.album_name(album_id)}", response, allowed)

    @precondition(lambda self: self.live_albums())
    @rule(who=st.integers(0, 20), album=st.integers(0, 2 * MAX_ALBUMS))
    def delete_album(self, who, album):
        p = self.pick(who, ("user", "user_capability"))
        album_id = self.choose_album(p, album)
        response = self.call(p, "DELETE", f"/albums/{album_id}")
        allowed = self.world.delete_album(p, album_id)
        self.step(f"{self.name(p)} deletes album {self.album_name(album_id)}", response, allowed)

    # ---- tokens --------------------------------------------------------------------------------

    @precondition(lambda self: len(self.world.capabilities) < MAX_CAPABILITIES)
    @rule(creator=st.sampled_from(USERS), album=st.integers(0, MAX_ALBUMS),
          flags=st.sampled_from([("read",), ("write",), ("read", "write"), ("read", "send"),
                                 ("read", "download"), ("read", "write", "send", "download")]))
    def create_capability(self, creator, album, flags):
        album_id = None if album == MAX_ALBUMS or not self.live_albums() else self.choose_admin_album(creator, album)
        names = {"read": "read_permission", "write": "write_permission", "send": "appropriate_permission",
                 "download": "download_permission"}
        form = {"title": "model", "scope_type": "album" if album_id else "user",
                **({"album": album_id} if album_id else {}), **{names[f]: "true" for f in flags}}
        self.changed = True
        response = self.http.call(self.user_tokens[creator], "POST", "/capabilities", data=form)
        cap_id = response.json()["id"] if response.status_code == 201 else "refused"
        allowed = self.world.create_capability(creator, cap_id, album_id, frozenset(flags))
        if response.status_code == 201 and allowed:
            kind = "album_capability" if album_id else "user_capability"
            self.tokens[Principal(kind, cap_id)] = response.json()["access_token"]
        where = f"album {self.album_name(album_id)}" if album_id else "user"
        self.step(f"{creator} creates a {where} capability {list(flags)}", response, allowed)

    @precondition(lambda self: self.world.capabilities)
    @rule(index=st.integers(0, MAX_CAPABILITIES - 1))
    def revoke(self, index):
        cap_ids = sorted(self.world.capabilities)
        cap_id = cap_ids[index % len(cap_ids)]
        p = Principal("album_capability" if self.world.capabilities[cap_id].album else "user_capability", cap_id)
        creator = self.world.capabilities[cap_id].creator
        label = self.name(p)
        self.changed = True
        response = self.http.call(self.user_tokens[creator], "POST", f"/capabilities/{cap_id}/revoke")
        allowed = self.world.revoke(creator, cap_id)
        self.step(f"{creator} revokes {label}", response, allowed)

    @precondition(lambda self: self.viewer_count < MAX_VIEWERS)
    @rule(who=st.integers(0, 20), study=st.integers(0, 20), source=st.integers(0, MAX_ALBUMS + 1),
          words=st.sampled_from([("read",), ("read", "write"), ("write",)]))
    def exchange(self, who, study, source, words):
        subject = self.pick(who, ("user", "user_capability", "album_capability"))
        study_uid = self.choose_study(subject, study)
        if source == MAX_ALBUMS + 1 or subject.kind == "album_capability":
            source_id, form = None, {}
        elif source == 0 or not self.album_ids:
            source_id, form = inbox(self.world.acting_user(subject)), {"source_type": "inbox"}
        else:
            source_id = self.album_ids[(source - 1) % len(self.album_ids)]
            form = {"source_type": "album", "source_id": source_id}
        self.changed = True
        response = self.http.call(None, "POST", "/token", data={
            "grant_type": TOKEN_EXCHANGE, "subject_token": self.tokens[subject], "subject_token_type": ACCESS_TOKEN,
            "scope": " ".join(("viewer", *words)), "studyUID": study_uid, **form})
        self.viewer_count += 1
        viewer_id = f"V{self.viewer_count}"
        allowed = self.world.exchange(subject, viewer_id, study_uid, source_id, frozenset(words))
        if allowed and response.status_code == 200:
            self.tokens[Principal("viewer", viewer_id)] = response.json()["access_token"]
        self.step(f"{self.name(subject)} exchanges a viewer token {viewer_id} for {self.study_name(study_uid)} "
                  f"from source {self.source_name(source_id)}, scope {list(words)}", response, allowed)

    # ---- reads ---------------------------------------------------------------------------------

    @rule(who=st.integers(0, 20), study=st.integers(0, 20),
          kind=st.sampled_from(("metadata", "wado", "rendered", "zip", "comments", "albums", "events")),
          pick=st.integers(0, 20))
    def read(self, who, study, kind, pick):
        p = self.pick(who)
        study_uid = self.choose_study(p, study)
        getattr(self, f"check_{kind}")(p, study_uid, pick)

    def check_metadata(self, p, study_uid, pick):
        key = (study_uid, self.series[study_uid][pick % SERIES_PER_STUDY])
        response = self.call(p, "GET", f"/studies/{key[0]}/series/{key[1]}/metadata", allow_redirects=True)
        got = {value(i, "00080018") for i in body_json(response)} if ok(response) else set()
        expected = set(self.world.instances.get(key, {})) if key in self.world.readable(p) else set()
        self.check(got == expected, sys._getframe().f_code.co_name,
            f"{self.name(p)} reads metadata of {self.series_name(key)}: instances {sorted(got)}, model {sorted(expected)}")

    def _instance_read(self, p, study_uid, pick, suffix: str):
        sops = sorted(self.sops[study_uid])
        if not sops:
            return
        sop = sops[pick % len(sops)]
        series_uid = self.sop_series[sop]
        readable = sop in self.world.readable_instances(p, study_uid)
        response = self.call(p, "GET", f"/studies/{study_uid}/series/{series_uid}/instances/{sop}{suffix}")
        self.check(ok(response) == readable, sys._getframe().f_code.co_name,
            f"{self.name(p)} GETs instance ..{sop[-6:]} of {self.series_name((study_uid, series_uid))}{suffix}: "
            f"{response.status_code}; the model {'allows' if readable else 'refuses'} it")

    def check_wado(self, p, study_uid, pick):
        self._instance_read(p, study_uid, pick, "")

    def check_rendered(self, p, study_uid, pick):
        self._instance_read(p, study_uid, pick, "/rendered")

    def check_zip(self, p, study_uid, pick):
        response = self.call(p, "GET", f"/studies/{study_uid}", params={"accept": "application/zip"},
                             allow_redirects=True)
        got = set()
        if response.status_code == 200:
            with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
                for name in archive.namelist():
                    if name != "DICOMDIR":
                        got.add(str(pydicom.dcmread(io.BytesIO(archive.read(name)), stop_before_pixels=True).SOPInstanceUID))
        expected = {sop for s in self.world.downloadable(p, study_uid) for sop in self.world.instances[s]}
        self.check(got == expected, sys._getframe().f_code.co_name,
            f"{self.name(p)} downloads {self.study_name(study_uid)} as zip: {response.status_code}, instances "
            f"{sorted(x[-6:] for x in got)}; the model allows {sorted(x[-6:] for x in expected)}")

    def check_comments(self, p, study_uid, pick):
        response = self.call(p, "GET", f"/studies/{study_uid}/comments")
        got = {c.get("comment") for c in body_json(response)} if ok(response) else set()
        expected = self.world.comments_seen(p, study_uid)
        self.check(got == expected, sys._getframe().f_code.co_name,
            f"{self.name(p)} reads comments of {self.study_name(study_uid)}: {sorted(got)}; model {sorted(expected)}")

    def check_albums(self, p, study_uid, pick):
        response = self.call(p, "GET", "/albums")
        got = {a["album_id"] for a in body_json(response)} & set(self.album_ids) if ok(response) else set()
        expected = self.world.visible_albums(p)
        self.check(got == expected, sys._getframe().f_code.co_name,
            f"{self.name(p)} lists albums: {sorted(map(self.album_name, got))}; model "
            f"{sorted(map(self.album_name, expected))}")

    def check_events(self, p, study_uid, pick):
        if not self.live_albums():
            return
        album_id = self.live_albums()[pick % len(self.live_albums())]
        response = self.call(p, "GET", f"/albums/{album_id}/events")
        allowed = self.world.may_read_events(p, album_id)
        self.check(ok(response) == allowed, sys._getframe().f_code.co_name,
            f"{self.name(p)} reads events of album {self.album_name(album_id)}: {response.status_code}; "
            f"the model {'allows' if allowed else 'refuses'} it")

    # ---- after every step ------------------------------------------------------------------------

    @invariant()
    def every_answer_matches_the_model(self):
        """After every step that sent a changing request (reads change nothing: checking again
        would repeat the previous check's requests and answers)."""
        if hasattr(self, "world") and self.changed:
            self.check_everything()

    def teardown(self):
        """The end of an example checks once more, whatever its last steps were (unless the
        example is ending on a failure already, which this must not hide)."""
        if hasattr(self, "world") and sys.exc_info()[0] is None:
            self.check_everything()

    def check_everything(self) -> None:
        self.changed = False
        principals = self.principals()
        lists = list(self.http.pool.map(self.study_list, principals))
        touched = list(self.http.pool.map(lambda p: self.study_instances(p, self.touched), principals)) \
            if self.touched else []
        for problem in lists:
            self.check(problem is None, "study_list", problem)
        for problem in touched:
            self.check(problem is None, "study_instances", problem)
        if self.touched:
            self.deep_reads(self.touched)
        self.touched = None

    def deep_reads(self, study_uid: str) -> None:
        """Comments of the touched study for everyone; for one principal in turn, one of its zip,
        the metadata of a series, or an instance ever stored in it."""
        list(self.http.pool.map(lambda p: self.check_comments(p, study_uid, 0), self.principals()))
        turn = len(self.log)  # per example: a replay must read the same things
        p = self.principals()[turn % len(self.principals())]
        read = (self.check_zip, self.check_metadata, self.check_wado)[turn % 3]
        read(p, study_uid, turn // 3)

    def study_list(self, p: Principal) -> str | None:
        response = self.call(p, "GET", "/studies", params={
            "StudyInstanceUID": ",".join(self.studies), "includefield": "all", "limit": "50"})
        rows = body_json(response) if ok(response) else []
        listed = {value(r, "0020000D"): r for r in rows if value(r, "0020000D") in self.studies}
        expected = {s for s in self.studies if self.world.readable_in(p, s)}
        if set(listed) != expected:
            return (f"{self.name(p)} lists studies {sorted(map(self.study_name, listed))}; the model allows "
                    f"{sorted(map(self.study_name, expected))}")
        for study_uid, row in listed.items():
            allowed = self.world.identities_seen(p, study_uid)
            text = json.dumps(row)
            leaked = [n for n in USERS if n.upper() + IDENTITY_MARK in text and n not in allowed]
            if leaked:
                return (f"{self.name(p)} sees {leaked} identity values in {self.study_name(study_uid)}'s QIDO row "
                        f"(it reads only series stored as {sorted(allowed)}): {text[:600]}")
            count = value(row, "00201206")
            readable = len(self.world.readable_in(p, study_uid))
            if count is not None and int(count) != readable:
                return (f"{self.name(p)} sees {count} series in {self.study_name(study_uid)}'s QIDO row; "
                        f"the model allows {readable}")
        return None

    def study_instances(self, p: Principal, study_uid: str) -> str | None:
        response = self.call(p, "GET", f"/studies/{study_uid}/instances")
        got = {value(r, "00080018") for r in body_json(response)} if ok(response) else set()
        expected = set(self.world.readable_instances(p, study_uid))
        if got != expected:
            return (f"{self.name(p)} lists instances of {self.study_name(study_uid)}: "
                    f"{sorted(x[-6:] for x in got)}; the model allows {sorted(x[-6:] for x in expected)}")
        return None


@pytest.fixture(scope="module")
def machine(stack):
    http = Http(stack.api_url)
    PermissionMachine.http = http
    PermissionMachine.cast = Cast(stack, http)
    PermissionMachine.template = load("CT_small.dcm")
    yield PermissionMachine
    http.pool.shutdown()


def test_the_stack_answers_what_the_model_allows(machine):
    machine.TestCase.settings = PROFILE
    machine.TestCase().runTest()
    print(f"{STEPS[0]} steps:", ", ".join(f"{k} {v}" for k, v in sorted(OUTCOMES.items())))
    assert not SURVEYED, "\n\n".join(f"[{k}] {v}" for k, v in SURVEYED.items())
