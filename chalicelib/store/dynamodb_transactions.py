"""DynamoDB's TransactWriteItems sent lean (`dynamodb_protocol`): a STOW commits each series' rows
in one (`services.ingest`), which cost ~2.2 ms of CPU through botocore's client pipeline for 8
instances (its fixed cost, and the walk of every nested attribute to serialize them), ~0.7 ms here
(docs/benchmarks.md, "STOW's transaction without botocore, s10"). Every `models.transact()` goes
this way.

A write must never be applied twice, and the outcome of one whose connection failed after the
body went out, or that got a 5xx or a damaged 200, is unknown. So:

- every transaction carries a `ClientRequestToken` (`with_token`), as botocore's client gives one
  (a uuid4: the operation's idempotency token) to a call without it. DynamoDB applies a
  transaction sent again with the same token and parameters within 10 minutes once: it answers
  success, or `TransactionInProgressException` while the first is still running, which botocore
  retries. botocore's own retries of a transaction rely on this;
- the lean request is sent once: no second send on a new connection when a kept one fails
  (`repeatable=False`), since the first may have reached DynamoDB;
- anything but an intact 200 gives None, and the caller (`dynamodb_connection.LeanConnection`)
  sends the same parameters, the token with them, through botocore, as botocore would retry it:
  throttling, 5xx and connection errors keep botocore's retries, and an error answer surfaces as
  botocore raises it (`TransactionCanceledException` with its cancellation reasons, which PynamoDB
  raises as `TransactWriteError`). A cancelled transaction wrote nothing, so sending it again runs
  it again on the rows as they are then, as a retry of the caller's would (cancelled again, or
  applied once); one whose outcome is unknown is answered, not applied, a second time thanks to
  the token. It costs one request more per transaction that does not succeed at once.

The local emulator honours the token as DynamoDB does (`devstack/moto_patches/transactions.py`:
moto ignores it)."""
from __future__ import annotations

import uuid

from chalicelib.store import dynamodb_protocol

OPERATION = "TransactWriteItems"
TOKEN = "ClientRequestToken"


def with_token(params: dict) -> dict:
    """The parameters with their `ClientRequestToken`, a new one if they had none (a uuid4, added
    last, as botocore's client adds it)."""
    return params if params.get(TOKEN) else {**params, TOKEN: str(uuid.uuid4())}


def write(endpoint_url: str, params: dict) -> dict | None:
    """DynamoDB's answer to the transaction (`with_token`'s parameters), sent once; None when it
    must go through botocore with the same parameters (see the module's docstring)."""
    if not params.get(TOKEN):
        raise ValueError("a transaction is sent lean only with its ClientRequestToken (`with_token`)")
    return dynamodb_protocol.send(endpoint_url, OPERATION, params, repeatable=False)
