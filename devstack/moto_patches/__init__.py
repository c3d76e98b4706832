"""Obelisk's patches to moto, the local AWS emulator: every piece of code that reaches into moto's
internals lives in this folder.

- `indexes.py`: a Query is handed only the entries DynamoDB would read: those under its hash key
  inside its range-key condition, up to its page (moto sorts and tests the whole table).
- `parser.py`: DynamoDB requests parsed by walkers built once per shape of botocore's model,
  instead of moto's shape-by-shape dispatch (ten look-ups per attribute value), same result.
- `serializer.py`: DynamoDB attribute values are written into responses directly, not through
  botocore's model member by member (~1.4 ms an item), with the same bytes; moto's walk of a
  result into those values (`dynamo_to_dict`) tests each value's exact type first.
- `transactions.py`: a transaction saves the items it names instead of deep-copying its tables;
  its `ClientRequestToken` is honoured (sent again, a transaction that succeeded is answered, not
  applied again), which moto ignores.
- `server.py`: per-request costs of moto's server that change no answer (the list of moto's
  services read from disk on every request; moto's check that a service's backend exists, made
  on every look-up; a connection and a thread per request, where AWS
  keeps HTTP/1.1 connections alive; an XML request id substituted into every body, JSON too).
- `expressions.py`: moto's count of an UpdateExpression's clauses in linear time (it was quadratic
  in the number of actions), same errors; an expression parsed once per text; the validator's copy
  of its tree made directly instead of through `copy.deepcopy`.
- `s3_put.py`: a plain S3 PutObject (the three a STOW writes per instance) served with moto's own
  `S3Response.put_object` and answer, without moto's domain dispatch, Flask and flask-cors around
  it and with its body read once; anything else goes to moto. An object's ETag hashed from its
  buffer in memory, not from a copy read back.
- `multipart.py`: S3's 404 `NoSuchUpload` for a multipart upload id it does not know (moto: 500).
- `checksums.py`: an object stored from an aws-chunked body keeps the checksum of its trailer, as
  `devstack/s3_auth.py` checked it (moto took the first checksum-like text in the raw body).
- `items.py`: an item's size limit summed once while moto builds the item (it was quadratic in
  the number of attributes), same error at the same attribute; a projection converts only the
  attributes it projects (moto converted the whole item once per projected path).
- `cognito.py`: Cognito's rules for a user changing their own attributes, which moto skips.
- `state.py`: the emulator's saved state (`.obelisk/emulator.pickle`, S3's in
  `emulator-s3.pickle`), stamped with its format and moto's version, checked on load; a bucket's
  keys saved with every version (moto's key store pickled its latest versions only).
- `sqs.py`: a message sent or received, and attributes read, without counting the queue's
  messages unless asked (moto counted them all, against the clock, for every message sent or
  received and three times per attribute asked: O(queue) per message).
- `notifications.py`: a bucket's S3 -> SQS notifications sent through the SQS API of the main
  emulator, S3 having a process of its own (`devstack/s3_sibling.py`).

They rely on the internals of one moto release (`Table.items`' layout, `Table.query`'s parameter
names, the `copy` globals of `moto.dynamodb.models` and of its `table` module,
`DynamoHandler.transact_write_items` with its `body`, `raw_body` and `current_account`, the `deepcopy`
global of `moto.dynamodb.parsing.validators` and the expression nodes' attributes, the JSON
serializer's structure and map methods, `UpdateExpressionParser.make`, `DepthFirstTraverser`'s
`process`, `nodes_to_be_processed`, `traverse_node_recursively` and `pre_processing_of_child`,
`ActionCountValidator.verify_action_counts`, `Item.__init__` and `LimitedSizeDict`'s limit,
`Item.project` and `find_nested_key`, `dynamo_to_dict` as `moto.dynamodb.responses` names it,
`BaseResponse._enrich_response`,
`BackendDict._create_account_specific_backend`, `moto.backends.list_of_moto_modules`, the multipart
methods of `S3Backend`, `S3Response`'s `setup_class`, `put_object`, `_get_checksum` and `_send_response` and what
moto's server view and flask-cors add around them, `JSONParser`'s handlers and
`_parse_json_body`, `FakeKey.etag` and its `SpooledTemporaryFile` buffer, `moto.s3.notifications._send_sqs_message`, SQS's `Queue.attributes` and `BASE_ATTRIBUTES`, `SQSBackend.send_message`, `send_message_batch`, `get_queue_attributes` and `is_message_valid_based_on_retention_period`, `moto.s3.utils._VersionedKeyStore`'s `getlist`/`setlist`), so importing this package on any other moto
than the one pinned in `requirements-dev.txt` raises `MotoVersionError`.

**The serialization rule.** `indexes.py` and `transactions.py` are exact only when DynamoDB
requests are served one at a time: the index buckets are caught up before a query and the saved
items are put back after a failed transaction, with no other write in between. DynamoDB requests
also need it for themselves: moto checks a condition and writes without a lock, so two concurrent
conditional puts could both succeed, which DynamoDB never allows. The emulator's server
(`devstack/emulator.py`, `CountingApp`) serves every DynamoDB request inside `ONE_AT_A_TIME`, and
each patched operation refuses to run outside it (`SerializationError`)."""
from __future__ import annotations

import re
import threading
from pathlib import Path

import moto

REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements-dev.txt"


class MotoVersionError(RuntimeError):
    """The installed moto is not the release these patches were written against."""


class SerializationError(RuntimeError):
    """A patched DynamoDB operation ran outside `ONE_AT_A_TIME`."""


def pinned_moto_version(requirements: Path = REQUIREMENTS) -> str:
    """The moto release pinned in requirements-dev.txt (`moto[server]==X`)."""
    found = re.search(r"^moto(?:\[[^\]]*\])?==(\S+)", requirements.read_text(), re.MULTILINE)
    if not found:
        raise MotoVersionError(f"no `moto==...` pin in {requirements}")
    return found.group(1)


def require_moto(installed: str, pinned: str) -> None:
    """Refuses a moto release other than the pinned one, saying what to do."""
    if installed != pinned:
        raise MotoVersionError(
            f"devstack/moto_patches was written for moto {pinned} (requirements-dev.txt) but moto "
            f"{installed} is installed: reinstall the pinned version (`pip install 'moto[server]=={pinned}'`), "
            f"or, to move to moto {installed}, re-check every patch in devstack/moto_patches against its "
            "internals, run tests/integration/test_emulator.py, and update the pin")


MOTO_VERSION = pinned_moto_version()
require_moto(moto.__version__, MOTO_VERSION)


class OneAtATime:
    """The lock DynamoDB requests are served under, which knows the thread that holds it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holder: int | None = None

    def __enter__(self) -> OneAtATime:
        self._lock.acquire()
        self._holder = threading.get_ident()
        return self

    def __exit__(self, *_exc) -> None:
        self._holder = None
        self._lock.release()

    def require(self, operation: str) -> None:
        """Raises unless the calling thread serves its request inside this lock."""
        if self._holder != threading.get_ident():
            raise SerializationError(
                f"{operation} ran outside devstack.moto_patches.ONE_AT_A_TIME: the emulator's patches "
                "are exact only when DynamoDB requests are served one at a time (see this package's docstring)")


ONE_AT_A_TIME = OneAtATime()


def install() -> None:
    """Applies every patch (idempotent)."""
    from devstack.moto_patches import (
        checksums,
        cognito,
        expressions,
        indexes,
        items,
        multipart,
        parser,
        s3_put,
        serializer,
        server,
        sqs,
        transactions,
    )

    server.install()
    expressions.install()
    items.install()
    transactions.install()
    cognito.install()
    indexes.install()
    serializer.install()
    parser.install()
    s3_put.install()
    multipart.install()
    checksums.install()
    sqs.install()
