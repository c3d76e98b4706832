"""Parallel requests by two users: each answer belongs to its own request. The local API once let
a handler read another thread's request (body and headers), so albums took the name another user
had sent and forms arrived empty."""
from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

CLIENTS = 8
REQUESTS_PER_CLIENT = 12


def test_parallel_album_creations_each_get_their_own_body_and_owner(stack, tokens):
    api = stack.api_url
    users = ["alice", "bob"]
    headers = {u: {"Authorization": f"Bearer {tokens(u)}"} for u in users}
    start = threading.Barrier(CLIENTS)

    def client(index: int) -> list[str]:
        user = users[index % 2]
        session = requests.Session()
        session.headers.update(headers[user])
        problems = []
        start.wait()
        for _ in range(REQUESTS_PER_CLIENT):
            name = f"{user}-{uuid.uuid4().hex}"
            created = session.post(f"{api}/albums", data={"name": name, "description": name}, timeout=30)
            if created.status_code != 201:
                problems.append(f"{user} POST /albums {created.status_code} {created.text[:80]}")
                continue
            album = created.json()
            if album["name"] != name or album["description"] != name:
                problems.append(f"{user} sent {name}, got {album['name']}")
            listed = session.get(f"{api}/albums/{album['album_id']}", timeout=30)
            if listed.status_code != 200 or listed.json()["name"] != name:
                problems.append(f"{user} GET own album {listed.status_code}")
            mine = session.get(f"{api}/albums", params={"limit": 5}, timeout=30)
            if mine.status_code != 200:
                problems.append(f"{user} GET /albums {mine.status_code}")
            elif any(not a["name"].startswith(f"{user}-") for a in mine.json() if "-" in a["name"]
                     and a["name"].split("-")[0] in users):
                problems.append(f"{user} listed another user's album")
        return problems

    def guarded(index: int) -> list[str]:
        try:
            return client(index)
        except requests.RequestException as error:  # a mixed-up request may leave a client unanswered
            return [f"client {index}: {type(error).__name__}"]

    with ThreadPoolExecutor(CLIENTS) as pool:
        problems = [p for found in pool.map(guarded, range(CLIENTS)) for p in found]
    assert problems == [], problems[:10]
