"""PynamoDB's connection, its reads and transactions sent lean (`dynamodb_reads`,
`dynamodb_transactions`), everything else, and what they decline, through its botocore client as
before. `models` uses it for every model and for `transact()`."""
from __future__ import annotations

from pynamodb.connection import Connection

from chalicelib.store import aws, dynamodb_reads, dynamodb_transactions


class LeanConnection(Connection):
    """A PynamoDB connection whose reads go through `dynamodb_reads.read` and whose transactions
    through `dynamodb_transactions.write` (declined: through its botocore client, a transaction
    with the same token), its client made from the process's botocore session
    (`aws.botocore_session`) rather than from one per thread."""

    @property
    def session(self):
        return aws.botocore_session()

    @property
    def client(self):
        with aws.CLIENT_CREATION:
            return super().client

    def _make_api_call(self, operation_name: str, operation_kwargs: dict) -> dict:
        endpoint_url = self.client.meta.endpoint_url
        if operation_name == dynamodb_transactions.OPERATION:
            operation_kwargs = dynamodb_transactions.with_token(operation_kwargs)
            found = dynamodb_transactions.write(endpoint_url, operation_kwargs)
        else:
            found = dynamodb_reads.read(endpoint_url, operation_name, operation_kwargs)
        return found if found is not None else super()._make_api_call(operation_name, operation_kwargs)
