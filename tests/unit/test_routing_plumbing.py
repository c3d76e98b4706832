"""The routes' shared plumbing has one home, `api/routing.py`: paging with each collection's default,
a form field given once, the path's UIDs checked in order."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from chalicelib.api import routing
from chalicelib.dicom.qido import DEFAULT_LIMIT
from chalicelib.errors import BadFormParameter, BadQueryParameter, BadRequest


def _request(**query) -> SimpleNamespace:
    return SimpleNamespace(query_params=query or None)


@pytest.mark.parametrize(("query", "expected"), [
    ({}, (DEFAULT_LIMIT, 0)),
    ({"limit": "5", "offset": "10"}, (5, 10)),
    ({"limit": "", "offset": ""}, (DEFAULT_LIMIT, 0)),
])
def test_a_page_defaults_to_the_collection_limit(query, expected):
    found = routing.page(_request(**query))
    assert (found.limit, found.offset) == expected


def test_the_webhook_lists_page_everything_when_no_limit_is_given():
    assert routing.paging(_request()) == (None, 0)
    assert routing.paging(_request(limit="3", offset="1")) == (3, 1)


@pytest.mark.parametrize("query", [{"limit": "none"}, {"limit": "0"}, {"offset": "-1"}, {"offset": "x"}])
def test_a_malformed_page_is_a_400_naming_the_parameter(query):
    for parse in (routing.page, routing.paging):
        with pytest.raises(BadQueryParameter, match=next(iter(query))):
            parse(_request(**query))


def test_a_form_field_read_once_refuses_a_repeat():
    assert routing.form_value({"url": ["https://a"]}, "url") == "https://a"
    assert routing.form_value({}, "url") is None
    with pytest.raises(BadFormParameter, match="url must be given once"):
        routing.form_value({"url": ["a", "b"]}, "url")


def test_the_path_uids_are_checked_in_order_and_absent_ones_skipped():
    routing.require_uids("1.2.3", None, None)
    with pytest.raises(BadRequest, match="SeriesInstanceUID"):
        routing.require_uids("1.2.3", "not a uid")
