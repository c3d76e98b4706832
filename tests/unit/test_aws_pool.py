"""One pool policy for the AWS calls a process sends at once (`store.aws`, docs/storage.md,
"Concurrency"): every concurrent call runs on one shared pool, and each client keeps as many
connections as that pool can use."""
from __future__ import annotations

import threading

from chalicelib.store import aws, dicom_store


def test_each_client_keeps_a_connection_for_every_worker_and_the_caller():
    for service in ("s3", "dynamodb", "sqs"):
        assert aws.client(service).meta.config.max_pool_connections >= aws.WORKERS + 1


def test_the_writes_of_concurrent_requests_share_one_bounded_pool(monkeypatch):
    ran_on: set[str] = set()
    lock = threading.Lock()

    def put(key, body, content_type, **extra):
        with lock:
            ran_on.add(threading.current_thread().name)

    monkeypatch.setattr(dicom_store, "put", put)
    requests = [threading.Thread(target=dicom_store.put_all,
                                 args=([(f"k{r}/{i}", b"x", "application/octet-stream") for i in range(24)],))
                for r in range(4)]
    for request in requests:
        request.start()
    for request in requests:
        request.join(timeout=60)
    assert ran_on and all(name.startswith("aws") for name in ran_on)
    assert len(ran_on) <= aws.WORKERS


def test_a_worker_sending_several_calls_sends_them_itself():
    """A call made on a worker that fans out again runs its items in line instead of waiting on a
    pool it may be filling itself."""
    inner = aws.each(lambda n: aws.each(lambda i: i * n, range(3)), range(4 * aws.WORKERS))
    assert inner == [[0, n, 2 * n] for n in range(4 * aws.WORKERS)]
    assert aws.together(lambda: aws.together(lambda: 1, lambda: 2), lambda: 3) == [[1, 2], 3]
