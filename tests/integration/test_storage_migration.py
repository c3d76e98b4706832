"""Data stored before the store-once layout is brought up to it (`chalicelib.store.storage_migration`):
a dry run reports the bytes a run frees and changes nothing; the run frees exactly those bytes,
every read still answers the same bytes, and a second run frees nothing.

The old layout is recreated the way its ingest wrote it: the whole Part-10 file at
`dicom/{st}/{se}/{sop}/{gen}.dcm`, its multipart copy `wado/.../{gen}/instance`, its metadata
document `wado/.../{gen}/metadata.json`, `bulk/7FE00010`, `rendered.jpeg`, and the series and
study answers under `wado/{st}/{se}/series/` and `wado/{st}/assembled/`, none expiring. So is the
layout just before the metadata document was derived: a skeleton, the frames and the document."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pydicom
import pytest
import requests

from devstack.bootstrap import aws_client
from devstack.demo import multipart_body
from devstack.in_process import service_layer
from tests.conftest import ROOT
from tests.integration import dicom_samples as samples

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def bucket(stack) -> dict[str, int]:
    """key -> size of the bucket's permanent objects (`dicom/`, `wado/`)."""
    s3 = aws_client("s3", stack.emulator_url)
    out = {}
    for prefix in ("dicom/", "wado/"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=f"obelisk-{stack.stage}-dicom", Prefix=prefix):
            out.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
    return out


def as_stored_before(study: str, bodies: dict[str, bytes]) -> None:
    """Rewrites a study stored now into the layout the previous ingest wrote."""
    from chalicelib.dicom import multipart
    from chalicelib.services import parsed, renditions
    from chalicelib.store import dicom_store
    from chalicelib.store.models import InstanceRecord

    records = list(InstanceRecord.query(f"STUDY#{study}", InstanceRecord.sk.startswith("INSTANCE#")))
    for record in records:
        names = (record.study_uid, record.series_uid, record.sop_uid)
        prefix = dicom_store.instance_prefix(*names, generation=record.generation)
        data = bodies[record.sop_uid]
        dicom_store.put(dicom_store.part10_key(*names, generation=record.generation), data, "application/dicom")
        dicom_store.put(prefix + "instance", multipart.build([("application/dicom", data)], "b"),
                        'multipart/related; type="application/dicom"; boundary=b')
        dicom_store.put(prefix + "bulk/7FE00010", data[-1000:], "application/octet-stream")
        dicom_store.put(prefix + "rendered.jpeg", b"\xff\xd8" + bytes(3000), "image/jpeg")
        write_legacy_document(record, parsed.parse(data).document)
        dicom_store.delete_objects([dicom_store.skeleton_key(*names, generation=record.generation),
                                    *dicom_store.keys_under(dicom_store.cached(prefix))])
        row = renditions.series_record(record.study_uid, record.series_uid)
        dicom_store.put(f"wado/{study}/{record.series_uid}/series/{row.generation}/instances-9",
                        bytes(len(data)), "application/octet-stream")
    dicom_store.put(f"wado/{study}/assembled/0123.zip", bytes(sum(map(len, bodies.values()))), "application/zip")
    dicom_store.delete_objects(dicom_store.keys_under(f"cache/wado/{study}/") + dicom_store.keys_under(f"cache/dicom/{study}/"))


def write_legacy_document(record, document: dict) -> None:
    """The instance's metadata document where and as STOW wrote it before it was derived."""
    from chalicelib.store import dicom_store

    names = (record.study_uid, record.series_uid, record.sop_uid)
    dicom_store.put_compressed(dicom_store.legacy_instance_metadata_key(*names, generation=record.generation),
                               json.dumps([document]).encode(), "application/dicom+json")


def reads(stack, token: str, study: str, datasets: list[pydicom.Dataset]) -> dict[str, tuple]:
    """The Part-10 file WADO-RS instance retrieval and WADO-URI answer, the first frame's answer
    and the instance's metadata, per instance, and the series' metadata."""
    auth = {"Authorization": f"Bearer {token}"}
    out = {}
    for ds in datasets:
        series, sop = str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID)
        base = f"{stack.api_url}/studies/{study}/series/{series}/instances/{sop}"
        instance = requests.get(base, headers={**auth, "Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'},
                                timeout=60)
        uri = requests.get(f"{stack.api_url}/wado", headers=auth, timeout=60, params={
            "requestType": "WADO", "studyUID": study, "seriesUID": series, "objectUID": sop,
            "contentType": "application/dicom"})
        frame = requests.get(base + "/frames/1", timeout=60,
                             headers={**auth, "Accept": "multipart/related; type=application/octet-stream; transfer-syntax=*"})
        metadata = requests.get(base + "/metadata", headers=auth, timeout=60)
        assert instance.status_code == uri.status_code == frame.status_code == metadata.status_code == 200
        out[sop] = (instance.content.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--", 1)[0], uri.content, frame.content,
                    metadata.json())
    for series in sorted({str(ds.SeriesInstanceUID) for ds in datasets}):
        metadata = requests.get(f"{stack.api_url}/studies/{study}/series/{series}/metadata", headers=auth, timeout=60)
        assert metadata.status_code == 200
        out[series] = metadata.json()
    return out



def stow_parts(stack, token: str, datasets: list) -> dict[str, bytes]:
    """The datasets stored in one STOW: their Part-10 bytes by SOP Instance UID."""
    bodies = {str(ds.SOPInstanceUID): samples.part10(ds) for ds in datasets}
    body, content_type = multipart_body(list(bodies.values()))
    stored = requests.post(f"{stack.api_url}/studies", data=body, timeout=120,
                           headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
    assert stored.status_code == 200, stored.text
    return bodies

def test_a_dry_run_reports_the_bytes_the_migration_frees_and_reads_answer_the_same(stack, tokens):
    from chalicelib.store import storage_migration

    token = tokens("alice")
    datasets = [pydicom.dcmread(io.BytesIO(b)) for b in samples.big_series(3, rows=128, columns=128)]
    study = str(datasets[0].StudyInstanceUID)
    multiframe = samples.renewed(samples.load("emri_small.dcm"), study)
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "AccessionNumber", "StudyID"):
        setattr(multiframe, keyword, datasets[0].get(keyword, ""))
    datasets.append(multiframe)
    bodies = stow_parts(stack, token, datasets)
    with service_layer(stack):
        as_stored_before(study, bodies)
    before = reads(stack, token, study, datasets)
    with service_layer(stack):
        from chalicelib.services import parsed
        for sop, (instance, uri, _, metadata) in ((k, v) for k, v in before.items() if k in bodies):
            assert uri == instance == bodies[sop] and metadata == [parsed.parse(bodies[sop]).document]
    old = bucket(stack)

    with service_layer(stack):
        dry = storage_migration.migrate(dry_run=True)
    command = subprocess.run([sys.executable, "-m", "chalicelib.store.storage_migration", "--dry-run"], cwd=ROOT,
                             env={**os.environ, **stack.api_environment()}, capture_output=True, timeout=300, check=True)
    assert json.loads(command.stdout.decode().strip().splitlines()[-1])["bytes_freed"] == dry.bytes_freed
    assert bucket(stack) == old, "a dry run changes nothing"
    assert dry.part10_converted >= 4 and dry.bytes_freed > sum(map(len, bodies.values())), dry

    with service_layer(stack):
        done = storage_migration.migrate()
    new = bucket(stack)
    assert done.failed == [] and done.bytes_freed == dry.bytes_freed
    assert sum(old.values()) - sum(new.values()) == dry.bytes_freed
    mine = {k: s for k, s in new.items() if f"/{study}/" in k}
    kept = {k.rsplit("/", 2)[-2] if "/frames/" in k else k.rsplit("/", 1)[-1].split(".")[-1] for k in mine}
    assert kept == {"parts", "frames"}, sorted(mine)  # skeletons and frames; metadata.json is derived now
    assert reads(stack, token, study, datasets) == before

    with service_layer(stack):
        again = storage_migration.migrate(dry_run=True)
    assert again.bytes_freed == 0 and again.part10_converted == 0


def test_frame_objects_of_a_file_kept_whole_are_dropped_and_its_frames_cut_on_read(stack, tokens):
    """A deflated file is kept whole: the frame object an earlier ingest wrote for it (the
    inflated pixel data, labelled deflated) is deleted, and its frame is then cut into the cache
    and answered as explicit VR little endian."""
    from pydicom.data import get_testdata_file

    from chalicelib.store import dicom_store, storage_migration
    from chalicelib.store.items import get_or_none
    from chalicelib.store.models import InstanceRecord

    token = tokens("alice")
    ds = samples.renewed(pydicom.dcmread(get_testdata_file("image_dfl.dcm")))
    body, content_type = multipart_body([samples.part10(ds)])
    stored = requests.post(f"{stack.api_url}/studies", data=body, timeout=120,
                           headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
    assert stored.status_code == 200, stored.text
    names = (str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID))
    with service_layer(stack):
        record = get_or_none(InstanceRecord, InstanceRecord.key(*names))
        old_frame = dicom_store.frame_key(*names, 1, generation=record.generation)
        assert dicom_store.head(old_frame) is None, "ingest writes no permanent frame for a file kept whole"
        dicom_store.put(old_frame, *dicom_store.octet_multipart([ds.PixelData], "1.2.840.10008.1.2.1.99"))
        dry = storage_migration.migrate(dry_run=True)
        assert dry.frames_of_whole_deleted == 1 and dicom_store.head(old_frame) is not None
        storage_migration.migrate()
        assert dicom_store.head(old_frame) is None
    frame = requests.get(f"{stack.api_url}/studies/{names[0]}/series/{names[1]}/instances/{names[2]}/frames/1",
                         headers={"Authorization": f"Bearer {token}",
                                  "Accept": "multipart/related; type=application/octet-stream; transfer-syntax=*"},
                         timeout=60)
    assert frame.status_code == 200 and frame.headers["Content-Type"].endswith("transfer-syntax=1.2.840.10008.1.2.1")
    assert ds.PixelData in frame.content


def test_a_metadata_document_stow_wrote_before_is_not_read_then_migrated_away_and_purged_with_its_series(stack, tokens):
    """Instances stored just before the document was derived have a skeleton, frames and a
    permanent `metadata.json`: reads answer the derived document (the old one, here made
    different, is not read), the migration deletes the old one, and deleting the series takes
    every object of its instances, the cached documents included."""
    from chalicelib.store import dicom_store, storage_migration
    from chalicelib.store.models import InstanceRecord

    token = tokens("alice")
    datasets = [pydicom.dcmread(io.BytesIO(b)) for b in samples.big_series(2, rows=64, columns=64)]
    study, series = str(datasets[0].StudyInstanceUID), str(datasets[0].SeriesInstanceUID)
    bodies = stow_parts(stack, token, datasets)
    with service_layer(stack):
        from chalicelib.services import parsed
        expected = {sop: [parsed.parse(data).document] for sop, data in bodies.items()}
        records = list(InstanceRecord.query(f"STUDY#{study}", InstanceRecord.sk.startswith("INSTANCE#")))
        legacy = [dicom_store.legacy_instance_metadata_key(r.study_uid, r.series_uid, r.sop_uid, generation=r.generation)
                  for r in records]
        for record in records:
            write_legacy_document(record, {"00080018": {"vr": "UI", "Value": ["not read"]}})
    answered = reads(stack, token, study, datasets)
    assert {sop: answered[sop][3] for sop in bodies} == expected
    assert answered[series] == [d for sop in sorted(bodies, key=lambda s: int(
        pydicom.dcmread(io.BytesIO(bodies[s])).InstanceNumber)) for d in expected[sop]]

    with service_layer(stack):
        done = storage_migration.migrate()
        assert done.failed == [] and all(dicom_store.head(k) is None for k in legacy)
        assert all(dicom_store.head(dicom_store.cached(k)) is not None for k in legacy), "the derived ones stay"
        for record in records:
            write_legacy_document(record, {"00080018": {"vr": "UI", "Value": ["not read"]}})
    assert reads(stack, token, study, datasets) == answered

    deleted = requests.delete(f"{stack.api_url}/studies/{study}/series/{series}", timeout=60,
                              headers={"Authorization": f"Bearer {token}"})
    assert deleted.status_code == 204
    left = [k for k in bucket(stack) if f"/{study}/" in k]
    s3 = aws_client("s3", stack.emulator_url)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=f"obelisk-{stack.stage}-dicom", Prefix="cache/")
    left += [o["Key"] for page in pages for o in page.get("Contents", []) if f"/{study}/{series}/" in o["Key"]]
    assert left == [], left
