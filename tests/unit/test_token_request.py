"""`POST /token`'s form parsed once into a `TokenRequest` (oauth/token_grants.py): what a grant reads
from it, and the RFC 6749 `invalid_request` answers for a parameter sent twice or a required one
missing, given when the grant reads that parameter."""
import pytest

from chalicelib.errors import OAuthError
from chalicelib.oauth import token_grants
from chalicelib.oauth.token_grants import TokenRequest


def test_the_form_becomes_typed_fields():
    request = TokenRequest.parse({"grant_type": ["authorization_code"], "studyUID": ["1.2.3"], "scope": [""],
                                  "unknown": ["ignored"]}, "Basic abc")
    assert (request.grant_type, request.study_uid, request.scope, request.code) == ("authorization_code", "1.2.3", "", None)
    assert request.authorization == "Basic abc"
    assert request.sent("scope") and not request.sent("code")


@pytest.mark.parametrize(("form", "name", "required", "detail"), [
    ({"code": ["a", "b"]}, "code", False, "code must be given once"),
    ({}, "code", True, "code is required"),
    ({"code": [""]}, "code", True, "code is required"),
])
def test_a_repeated_or_missing_parameter_is_an_invalid_request(form, name, required, detail):
    with pytest.raises(OAuthError) as refused:
        TokenRequest.parse(form).one(name, required)
    assert refused.value.body() == {"error": "invalid_request", "error_description": detail}


def test_two_client_authentications_are_refused_before_any_grant():
    request = TokenRequest.parse({"grant_type": ["authorization_code"], "client_assertion": ["eyJ"]}, "Basic abc")
    with pytest.raises(OAuthError) as refused:
        token_grants.exchange(request)
    assert refused.value.body()["error_description"] == "use one client authentication method"
