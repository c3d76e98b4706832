"""`obelisk import`: studies from Orthanc's DICOMweb (Debian's package, as in the bench) arrive
byte-identical; from another Obelisk spoken to as a KHEOPS API, the user's albums come too
(name, description, settings, members by e-mail, which series each holds). A second run resumes:
nothing is sent again."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import requests

from devstack.stack import LocalStack
from tests.conftest import ROOT, TEST_POLLER_ARGS, TEST_STACK_ENV
from tests.integration import dicom_samples as samples

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
PART10 = 'multipart/related; type="application/dicom"; transfer-syntax=*'


def obelisk(*args: str) -> tuple[int, str, str]:
    run = subprocess.run([sys.executable, "-m", "obelisk_cli", *args], cwd=ROOT, capture_output=True, timeout=600,
                         check=False)
    return run.returncode, run.stdout.decode(), run.stderr.decode()


def retrieve(api_url: str, token: str, study: str, series: str, sop: str) -> bytes:
    answer = requests.get(f"{api_url}/studies/{study}/series/{series}/instances/{sop}",
                          headers={"Authorization": f"Bearer {token}", "Accept": PART10}, timeout=60)
    assert answer.status_code == 200, answer.text
    from obelisk_cli.download import multipart_parts

    (part,) = multipart_parts(answer.content, answer.headers["Content-Type"])
    return part


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    from bench.orthanc import PACKAGES, Orthanc

    missing = [p for p in PACKAGES if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode]
    if missing or shutil.which("Orthanc") is None:  # a failure, not a skip: `make test` installs them
        pytest.fail(f"Debian's {' and '.join(missing or PACKAGES)} not installed or Orthanc not on PATH: "
                    "run `make test-deps` (as root), which `make test` does", pytrace=False)

    server = Orthanc(tmp_path_factory.mktemp("orthanc")).start()
    yield server
    server.stop()


def test_three_studies_from_orthanc_arrive_byte_identical(stack, tokens, orthanc, tmp_path):
    originals = {}
    for name in ("CT_small.dcm", "MR_small.dcm", "emri_small_jpeg_2k_lossless.dcm"):
        dataset = samples.load(name)
        data = samples.part10(dataset)
        assert requests.post(f"{orthanc.root}/instances", data=data, timeout=60).status_code == 200
        originals[(str(dataset.StudyInstanceUID), str(dataset.SeriesInstanceUID), str(dataset.SOPInstanceUID))] = data
    command = ["import", "--from", orthanc.dicomweb, "--url", stack.api_url, "--bearer-token", tokens("carol"),
               "--work-dir", str(tmp_path / "work"), "--json", "--quiet"]
    for study, *_ in originals:
        command += ["--study", study]
    code, out, err = obelisk(*command)
    assert code == 0, out + err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["stored"] == 3 and summary["failed"] == []
    for (study, series, sop), data in originals.items():
        assert retrieve(stack.api_url, tokens("carol"), study, series, sop) == data
    assert not (tmp_path / "work").exists()  # removed once everything is stored

    code, out, err = obelisk(*command)
    assert code == 0, out + err
    again = json.loads(out.strip().splitlines()[-1])
    assert again["already_stored"] == 3 and again["stored"] == 0 and again["bytes_sent"] == 0


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A second Obelisk, the KHEOPS-API source."""
    local = LocalStack(tmp_path_factory.mktemp("source-stack"), emulator_port=0, api_port=0, persist=False,
                       extra_env=TEST_STACK_ENV, poller_args=TEST_POLLER_ARGS)
    try:
        local.start()
        yield local
    finally:
        local.stop()


def stow(api_url: str, token: str, bodies: list[bytes], album: str | None = None) -> None:
    from obelisk_cli.upload import multipart_body

    body, content_type = multipart_body(bodies)
    answer = requests.post(f"{api_url}/studies", params={"album": album} if album else {}, data=body, timeout=60,
                           headers={"Authorization": f"Bearer {token}", "Content-Type": content_type,
                                    "Accept": "application/dicom+json"})
    assert answer.status_code == 200, answer.text


def test_kheops_albums_come_with_their_settings_members_and_series(stack, tokens, source, tmp_path):
    for api_url, token in ((source.api_url, source.token("bob")), (stack.api_url, tokens("bob"))):
        requests.get(f"{api_url}/albums", headers={"Authorization": f"Bearer {token}"}, timeout=30)  # bob signs in
    auth = {"Authorization": f"Bearer {source.token('alice')}"}
    album = requests.post(f"{source.api_url}/albums", headers=auth, timeout=30, data={
        "name": "Tumour board (import)", "description": "Thursday cases", "sendSeries": "false", "downloadSeries": "false",
        "addUser": "true", "writeComments": "false"}).json()
    assert requests.put(f"{source.api_url}/albums/{album['album_id']}/users/bob@example.org", headers=auth,
                        timeout=30).status_code == 201
    assert requests.put(f"{source.api_url}/albums/{album['album_id']}/users/bob@example.org/admin", headers=auth,
                        timeout=30).status_code == 204
    in_album, in_inbox = samples.load("CT_small.dcm"), samples.load("MR_small.dcm")
    other_series = samples.renewed(samples.load("CT_small.dcm"), study=str(in_album.StudyInstanceUID))
    stow(source.api_url, source.token("alice"), [samples.part10(in_album)], album["album_id"])
    stow(source.api_url, source.token("alice"), [samples.part10(in_inbox), samples.part10(other_series)])

    code, out, err = obelisk("import", "--from", source.api_url, "--from-bearer-token", source.token("alice"),
                             "--albums", "--url", stack.api_url, "--bearer-token", tokens("alice"),
                             "--work-dir", str(tmp_path / "work"), "--keep", "--quiet")
    assert code == 0, out + err
    here = {"Authorization": f"Bearer {tokens('alice')}"}
    albums = [a for a in requests.get(f"{stack.api_url}/albums", headers=here, timeout=30).json()
              if a["name"] == "Tumour board (import)"]
    assert len(albums) == 1
    copied = albums[0]
    assert copied["description"] == "Thursday cases"
    assert (copied["send_series"], copied["download_series"], copied["add_user"], copied["write_comments"],
            copied["add_series"]) == (False, False, True, False, album["add_series"])
    members = requests.get(f"{stack.api_url}/albums/{copied['album_id']}/users", headers=here, timeout=30).json()
    assert {(m["email"], m["is_admin"]) for m in members} == {("alice@example.org", True), ("bob@example.org", True)}
    series = requests.get(f"{stack.api_url}/studies/{in_album.StudyInstanceUID}/series",
                          params={"album": copied["album_id"]}, headers=here, timeout=30).json()
    assert [s["0020000E"]["Value"][0] for s in series] == [str(in_album.SeriesInstanceUID)]
    inbox = requests.get(f"{stack.api_url}/studies", params={"inbox": "true"}, headers=here, timeout=30).json()
    assert str(in_inbox.StudyInstanceUID) in {s["0020000D"]["Value"][0] for s in inbox}

    code, out, err = obelisk("import", "--from", source.api_url, "--from-bearer-token", source.token("alice"),
                             "--albums", "--url", stack.api_url, "--bearer-token", tokens("alice"),
                             "--work-dir", str(tmp_path / "work"), "--quiet")
    assert code == 0, out + err
    assert len([a for a in requests.get(f"{stack.api_url}/albums", headers=here, timeout=30).json()
                if a["name"] == "Tumour board (import)"]) == 1  # a second run completes, never duplicates
