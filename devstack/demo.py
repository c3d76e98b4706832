"""Demo data: pydicom's sample CT and MR studies in alice's inbox, stored over STOW-RS."""
from __future__ import annotations

import uuid

import requests
from pydicom.data import get_testdata_file

from devstack.stack import LocalStack

DEMO_FILES = ("CT_small.dcm", "MR_small.dcm")


def multipart_body(files: list[bytes]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    chunks = []
    for data in files:
        chunks.append(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + data + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f'multipart/related; type="application/dicom"; boundary={boundary}'


def load_demo_data(stack: LocalStack) -> None:
    token = stack.token("alice")
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/dicom+json"}
    existing = requests.get(f"{stack.api_url}/studies", headers=headers, timeout=30)
    if existing.status_code == 200 and existing.json():
        return
    body, content_type = multipart_body([open(get_testdata_file(n), "rb").read() for n in DEMO_FILES])
    response = requests.post(f"{stack.api_url}/studies", data=body,
                             headers={**headers, "Content-Type": content_type}, timeout=60)
    response.raise_for_status()
