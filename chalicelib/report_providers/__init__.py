"""KHEOPS report providers, one feature (docs/report-providers.md, docs/kheops-compatibility.md §11):
`registry` (each album's providers: create, list, edit, delete, test a configuration URL),
`provider_config` (fetch and validate a provider's configuration document), `launch` (send a
user's browser to a provider for studies of its album, both flows), `client_assertions` (a
provider's `private_key_jwt` authentication at `/token`). The routes are in
`api/reportproviders.py` and `api/launch.py`; the provider's token is minted by `auth/issued.py`
and exchanged through `oauth/token_grants.py`. Not the embeddable reporting (`reporting/`)."""
