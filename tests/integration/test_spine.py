"""The first thread: alice stores a study over DICOMweb and reads it back; bob cannot see it."""
from __future__ import annotations

import io

import pydicom
import pytest
import requests
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from tests.dicomweb_session import DICOMwebClient

SAMPLES = ("CT_small.dcm", "MR_small.dcm")


def client_for(stack, token: str) -> DICOMwebClient:
    return DICOMwebClient(url=stack.api_url, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="module")
def alice_study(stack, tokens):
    datasets = [pydicom.dcmread(get_testdata_file(name)) for name in SAMPLES]
    for dataset in datasets:  # this module's own copies: other modules share the samples around
        dataset.StudyInstanceUID, dataset.SeriesInstanceUID = generate_uid(), generate_uid()
        dataset.SOPInstanceUID = generate_uid()
    client_for(stack, tokens("alice")).store_instances(datasets)
    return datasets


def test_alice_finds_her_studies_with_qido(stack, tokens, alice_study):
    found = client_for(stack, tokens("alice")).search_for_studies()
    uids = {study["0020000D"]["Value"][0] for study in found}
    assert {str(ds.StudyInstanceUID) for ds in alice_study} <= uids


def test_alice_retrieves_identical_bytes(stack, tokens, alice_study):
    client = client_for(stack, tokens("alice"))
    for name, ds in zip(SAMPLES, alice_study, strict=True):
        retrieved = client.retrieve_instance(str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID),
                                             str(ds.SOPInstanceUID))
        assert retrieved == ds  # every data element, pixel data included
        assert retrieved.PixelData == pydicom.dcmread(get_testdata_file(name)).PixelData


def test_instance_bytes_come_from_s3_by_redirect(stack, tokens, alice_study):
    ds = pydicom.dcmread(get_testdata_file(SAMPLES[0]))
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid(), generate_uid()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    sent = buffer.getvalue()
    stored = requests.post(f"{stack.api_url}/studies", data=sent, timeout=30, headers={
        "Authorization": f"Bearer {tokens('alice')}", "Content-Type": "application/dicom"})
    assert stored.status_code == 200
    url = (f"{stack.api_url}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
           f"/instances/{ds.SOPInstanceUID}")
    response = requests.get(url, headers={"Authorization": f"Bearer {tokens('alice')}",
                                          "Accept": 'multipart/related; type="application/dicom"'},
                            allow_redirects=False, timeout=30)
    assert response.status_code == 303
    assert response.headers["Location"].startswith(stack.s3_url + "/")
    body = requests.get(response.headers["Location"], timeout=30)
    assert body.headers["Content-Type"].startswith('multipart/related; type="application/dicom"')
    assert sent in body.content  # the very bytes stored, from S3, not through the function


def test_bob_does_not_see_alices_study(stack, tokens, alice_study):
    client = client_for(stack, tokens("bob"))
    uids = {study["0020000D"]["Value"][0] for study in client.search_for_studies()}
    assert not uids & {str(ds.StudyInstanceUID) for ds in alice_study}


def test_bob_wado_of_alices_instance_is_refused(stack, tokens, alice_study):
    ds = alice_study[0]
    url = (f"{stack.api_url}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
           f"/instances/{ds.SOPInstanceUID}")
    response = requests.get(url, headers={"Authorization": f"Bearer {tokens('bob')}"},
                            allow_redirects=False, timeout=30)
    assert response.status_code == 404
    assert "Location" not in response.headers
    assert response.json()["message"] == "Series Not Found"
