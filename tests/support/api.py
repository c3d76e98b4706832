"""A demo user's view of the API over HTTP, for integration tests: `api.get(path, ...)`,
`api.post(...)`, ... against the stack's `/api`, with the user's token."""
from __future__ import annotations

import requests


class Api:
    timeout = 60

    def __init__(self, stack, token: str):
        self.base = stack.api_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def __getattr__(self, method):
        def call(path, **kwargs):
            return self.session.request(method.upper(), f"{self.base}{path}", timeout=self.timeout, **kwargs)
        return call

    def study_uids(self, **params) -> set[str]:
        response = self.get("/studies", params=params)
        assert response.status_code in (200, 204), response.text
        return set() if response.status_code == 204 else {s["0020000D"]["Value"][0] for s in response.json()}


def signed_in(stack, tokens, names=("alice", "bob", "carol"), kind: type[Api] = Api) -> dict[str, Api]:
    """Each named demo user's `Api`, each signed in once (so each is a registered user)."""
    apis = {name: kind(stack, tokens(name)) for name in names}
    for api in apis.values():
        assert api.get("/inboxinfo").status_code == 200
    return apis
