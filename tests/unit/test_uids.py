"""UID validation."""
import pytest

from chalicelib.dicom.uids import is_valid_uid, require_uid
from chalicelib.errors import BadRequest


@pytest.mark.parametrize("uid", ["1.2", "1.2.840.10008.1.2.1", "0.0", "2.25." + "9" * 58])
def test_valid(uid):
    assert is_valid_uid(uid)


@pytest.mark.parametrize("uid", ["", "1", "1..2", "01.2", "1.2.", "a.b", "2.25." + "9" * 61, None])
def test_invalid(uid):
    assert not is_valid_uid(uid)


def test_require_uid_names_the_parameter():
    with pytest.raises(BadRequest) as refused:
        require_uid("x", "StudyInstanceUID")
    assert refused.value.detail == "StudyInstanceUID is not a valid UID."
