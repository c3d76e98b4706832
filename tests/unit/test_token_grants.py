"""Which grant serves a `POST /token` request (oauth/token_grants.GRANTS), read without a stack: the
grant type first, then the client authentication; what no grant serves gets the RFC 6749 error."""
import pytest

from chalicelib.errors import OAuthError
from chalicelib.oauth import token_grants, viewer_launch
from chalicelib.oauth.token_grants import (
    PublicClientCodeGrant,
    ReportProviderCodeGrant,
    TokenExchangeGrant,
    grant_for,
)

CODE = "authorization_code"


def _form(**values: str) -> dict[str, list[str]]:
    return {name: [value] for name, value in values.items()}


@pytest.mark.parametrize(("form", "grant"), [
    (_form(grant_type=token_grants.TOKEN_EXCHANGE), TokenExchangeGrant),
    (_form(grant_type=CODE, client_id="any", client_assertion="eyJ"), ReportProviderCodeGrant),
    (_form(grant_type=CODE, client_id="any", client_assertion_type="x"), ReportProviderCodeGrant),
    # a client assertion decides even when the client_id names a public client
    (_form(grant_type=CODE, client_id=viewer_launch.OHIF_CLIENT_ID, client_assertion="eyJ"), ReportProviderCodeGrant),
    (_form(grant_type=CODE, client_id=viewer_launch.OHIF_CLIENT_ID), PublicClientCodeGrant),
])
def test_the_grant_type_and_client_authentication_choose_the_grant(form, grant):
    assert type(grant_for(form)) is grant


@pytest.mark.parametrize(("form", "error"), [
    (_form(grant_type="password"), "unsupported_grant_type"),
    (_form(grant_type=CODE, client_id="unknown-public-client"), "unauthorized_client"),
    (_form(grant_type=CODE), "unauthorized_client"),
    ({"grant_type": [CODE], "client_id": ["ohif", "ohif"]}, "invalid_request"),
    ({}, "invalid_request"),
])
def test_what_no_grant_serves_is_refused(form, error):
    with pytest.raises(OAuthError) as refused:
        grant_for(form)
    assert refused.value.error == error
