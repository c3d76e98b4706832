"""A study search's reads leave botocore's client pipeline (`store.dynamodb_reads`, ~1.5 ms of API
CPU per request saved, six requests a search) and read exactly what it read: against the local
stack, the reads of a PatientID search (the caller's profile and memberships, the index's
matches beside the albums' counts, the page's rows and its series' instance counts) answer the same
models and rows sent lean as sent through botocore, and none of them goes through botocore's
client when DynamoDB answers."""
from __future__ import annotations

import io

import jwt
import pydicom
import pytest
import requests

from devstack.demo import multipart_body
from devstack.in_process import service_layer


@pytest.fixture
def stored(stack, tokens):
    """alice's PatientID and her study, stored over STOW."""
    from bench.data import ct_study

    files = ct_study([1], seed=23).instances()
    body, content_type = multipart_body(files)
    requests.post(f"{stack.api_url}/studies", data=body, timeout=120, headers={
        "Authorization": f"Bearer {tokens('alice')}", "Content-Type": content_type}).raise_for_status()
    dataset = pydicom.dcmread(io.BytesIO(files[0]), stop_before_pixels=True)
    return str(dataset.PatientID), str(dataset.StudyInstanceUID)


def _reads(sub: str, patient_id: str) -> dict:
    """What a PatientID search of `sub`'s albums reads, store call by store call."""
    from chalicelib.dicom import matching
    from chalicelib.store import listing, rows, shares, study_index, users
    from chalicelib.store.models import SeriesRecord

    albums = sorted(shares.memberships(sub))
    hits = study_index.hits(albums, matching.study_criteria({"PatientID": [patient_id]})[0], False, True)
    listed = listing.rows_of(albums, sorted(hits))
    keys = [SeriesRecord.key(study, series) for study, found in listed.items() for series in found.series_uids]
    return {"user": users.get_or_none(sub).attribute_values, "albums": albums,
            "counts": {a: c.attribute_values for a, c in listing.counts(albums).items()},
            "hits": hits, "rows": {uid: vars(found) for uid, found in listed.items()},
            "instances": sorted(map(str, rows.batch_get(SeriesRecord, keys, ["series_uid", "instance_count"])))}


def test_a_search_s_reads_are_sent_lean_and_read_what_botocore_reads(stack, tokens, stored, monkeypatch):
    patient_id, study_uid = stored
    import botocore.client
    through_botocore: list[str] = []
    make_call = botocore.client.BaseClient._make_api_call

    def counting(client, operation: str, params: dict):
        through_botocore.append(operation)
        return make_call(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    sub = jwt.decode(tokens("alice"), options={"verify_signature": False})["sub"]
    with service_layer(stack):
        from chalicelib.store import dynamodb_reads
        lean = _reads(sub, patient_id)
        assert through_botocore == []
        monkeypatch.setattr(dynamodb_reads, "READS", frozenset())  # every read through botocore, as before
        assert _reads(sub, patient_id) == lean
    assert sorted(set(through_botocore)) == ["BatchGetItem", "GetItem", "Query"]
    assert list(lean["hits"]) == [study_uid] and lean["instances"]
