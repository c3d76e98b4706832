"""PKCE S256 (RFC 7636 appendix B example)."""
from chalicelib.oauth import pkce

VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_rfc_example():
    assert pkce.challenge_of(VERIFIER) == CHALLENGE
    assert pkce.verifies(VERIFIER, CHALLENGE)


def test_wrong_or_malformed_verifier_fails():
    assert not pkce.verifies(VERIFIER[:-1] + "A", CHALLENGE)
    assert not pkce.verifies("short", CHALLENGE)
    assert not pkce.verifies(None, CHALLENGE)


def test_only_s256_challenges_are_accepted():
    assert pkce.is_valid_challenge(CHALLENGE, "S256")
    assert not pkce.is_valid_challenge(CHALLENGE, "plain")
    assert not pkce.is_valid_challenge("x", "S256")
