"""Obelisk as an OAuth 2.0 / OpenID Connect provider (docs/tokens.md): `token_grants` (`POST /token`,
one class per grant in the `GRANTS` registry), `introspection` (`POST /token/introspect`),
`viewer_launch` (OHIF's sign-in: launch ticket, `authorize`, one-time code), `pkce` (RFC 7636 S256).
The tokens it hands out are made and verified by `auth/issued.py` with the key ring of
`auth/signing.py`, which stay in `auth/` because authenticating a request verifies them. The routes
are in `api/tokens.py` and `api/launch.py`."""
