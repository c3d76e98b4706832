"""A study comment reaches only readers of every series its author read when writing it
(docs/tokens.md, comments). An outside attack opened alice's comments by storing a decoy series
under her study UID and pushing it into her inbox: nothing a caller does alone may open them."""
from __future__ import annotations

import pytest

from tests.integration.test_data_path_security import Api, alice_ct, another_instance
from tests.support.api import signed_in

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def people(stack, tokens):
    return signed_in(stack, tokens, ("alice", "bob"), kind=Api)


def comments(api, study: str) -> list[str] | None:
    answer = api.get(f"/studies/{study}/comments")
    return None if answer.status_code == 404 else [c["comment"] for c in answer.json()]


def comment_count(api, study: str) -> int | None:
    found = api.get("/studies", params={"StudyInstanceUID": study, "inbox": "true", "includefield": "comments"})
    return None if found.status_code == 204 else found.json()[0]["00012346"]["Value"][0]


def test_a_series_pushed_into_the_authors_inbox_opens_none_of_her_comments(people):
    alice, bob = people["alice"], people["bob"]
    ct = alice_ct()
    study = str(ct.StudyInstanceUID)
    assert alice.stow(ct).status_code == 200
    assert alice.post(f"/studies/{study}/comments", data={"comment": "Dx: before the decoy"}).status_code == 204
    decoy = another_instance(ct, PatientName="Bob^Decoy", PatientID="BOB-ID")
    assert bob.stow(decoy).status_code == 200  # a STOW into a study he cannot read: a new study to him
    assert bob.put(f"/studies/{study}/series/{decoy.SeriesInstanceUID}/users/alice@example.org").status_code == 201
    assert alice.post(f"/studies/{study}/comments", data={"comment": "Dx: after the decoy"}).status_code == 204
    assert comments(bob, study) == []
    assert comment_count(bob, study) == 0
    assert comments(alice, study) == ["Dx: after the decoy", "Dx: before the decoy"]


def test_a_comment_reaches_readers_of_every_series_its_author_read(people):
    alice, bob = people["alice"], people["bob"]
    first = alice_ct()
    second = another_instance(first)
    study = str(first.StudyInstanceUID)
    assert alice.stow(first, second).status_code == 200
    assert alice.post(f"/studies/{study}/comments", data={"comment": "about both series"}).status_code == 204
    assert alice.put(f"/studies/{study}/series/{first.SeriesInstanceUID}/users/bob@example.org").status_code == 201
    assert comments(bob, study) == []  # bob reads one of the two series the comment may speak of
    assert alice.put(f"/studies/{study}/series/{second.SeriesInstanceUID}/users/bob@example.org").status_code == 201
    assert comments(bob, study) == ["about both series"]
    assert comment_count(bob, study) == 1


def test_a_private_comment_answers_only_from_what_its_author_reads(people):
    """bob cannot learn whether alice holds a study by addressing her a private comment on it."""
    alice, bob = people["alice"], people["bob"]
    held, not_held = alice_ct(), alice_ct()
    assert alice.stow(held).status_code == 200
    answers = []
    for ct in (held, not_held):
        mine = another_instance(ct, PatientName="Bob^Own", PatientID="BOB-ID")
        assert bob.stow(mine).status_code == 200
        answer = bob.post(f"/studies/{ct.StudyInstanceUID}/comments",
                          data={"comment": "probe", "to_user": "alice@example.org"})
        answers.append((answer.status_code, answer.json()))
    assert answers[0] == answers[1] and answers[0][0] == 404
    assert comments(alice, str(held.StudyInstanceUID)) == []


def test_a_series_stored_again_after_a_purge_opens_no_comment_written_on_the_purged_one(people):
    """Outside attack, round 2: alice comments on S with series X, adds Y and deletes X (purged);
    bob stores S/X again. His X is another series: the comment stays hers."""
    alice, bob = people["alice"], people["bob"]
    x = alice_ct()
    study = str(x.StudyInstanceUID)
    assert alice.stow(x).status_code == 200
    assert alice.post(f"/studies/{study}/comments", data={"comment": "about X"}).status_code == 204
    y = another_instance(x)
    assert alice.stow(y).status_code == 200
    assert alice.delete(f"/studies/{study}/series/{x.SeriesInstanceUID}").status_code == 204  # from her inbox
    again = another_instance(x, series=str(x.SeriesInstanceUID), PatientName="Bob^Again", PatientID="BOB-ID")
    assert bob.stow(again).status_code == 200
    assert comments(bob, study) == []
    assert comment_count(bob, study) == 0
    assert comments(alice, study) == ["about X"]
