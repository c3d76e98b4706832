"""The emulator's patches to moto refuse a moto release they were not written for, refuse to run
outside the one-request-at-a-time rule they rely on, and the emulator's saved state is read only
by the moto release that wrote it (`devstack/moto_patches/`); what they change answers as moto or
DynamoDB does (parsing, expression trees, ETags, transactions' idempotency tokens)."""
from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import moto
import pytest

from devstack import moto_patches
from devstack.moto_patches import state

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_the_patches_are_written_for_the_pinned_and_installed_moto():
    assert moto_patches.pinned_moto_version() == moto.__version__ == moto_patches.MOTO_VERSION


def test_another_moto_release_is_refused_with_what_to_do():
    with pytest.raises(moto_patches.MotoVersionError) as refused:
        moto_patches.require_moto("5.3.0", "5.2.5")
    assert "5.3.0" in str(refused.value) and "moto[server]==5.2.5" in str(refused.value)


def test_loading_the_patches_on_another_moto_release_fails_before_patching():
    run = _python("import moto; moto.__version__ = '5.1.0'\n"
                  "import devstack.moto_patches.indexes")
    assert run.returncode != 0
    assert "MotoVersionError" in run.stderr and "moto 5.1.0 is installed" in run.stderr


def test_a_patched_operation_outside_the_serialization_rule_is_refused():
    run = _python("""
import boto3
from moto import mock_aws
from devstack import moto_patches
moto_patches.install()
with mock_aws():
    db = boto3.client("dynamodb", region_name="us-east-1")
    db.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    with moto_patches.ONE_AT_A_TIME:
        db.put_item(TableName="t", Item={"pk": {"S": "inside"}})
    try:
        db.put_item(TableName="t", Item={"pk": {"S": "outside"}})
    except moto_patches.SerializationError as error:
        print("refused:", error)
""")
    assert run.returncode == 0, run.stderr
    assert "refused: DynamoDB PutItem ran outside devstack.moto_patches.ONE_AT_A_TIME" in run.stdout


def test_saved_state_carries_its_format_and_moto_version(tmp_path):
    path = tmp_path / "emulator.pickle"
    state.save(str(path))
    saved = pickle.loads(path.read_bytes())
    assert (saved["format"], saved["moto"]) == (state.STATE_FORMAT, moto.__version__)
    assert set(saved["backends"]) == set(state.PERSISTED_SERVICES)


def test_state_saved_by_another_moto_release_is_refused_with_what_to_do(tmp_path):
    path = tmp_path / "emulator.pickle"
    path.write_bytes(pickle.dumps({"format": state.STATE_FORMAT, "moto": "5.1.0", "backends": {}}))
    with pytest.raises(state.SavedStateError) as refused:
        state.load(str(path))
    assert "saved by moto 5.1.0" in str(refused.value) and "make wipe" in str(refused.value)


def test_state_in_an_unknown_format_is_refused(tmp_path):
    path = tmp_path / "emulator.pickle"
    path.write_bytes(pickle.dumps({"format": 99, "moto": moto.__version__, "backends": {}}))
    with pytest.raises(state.SavedStateError, match="state format 99"):
        state.load(str(path))


def test_unstamped_state_from_before_the_stamp_is_read_as_moto_5_2_5(capsys):
    backends = {"dynamodb": {}}
    assert state.backends_of(backends, moto_version="5.2.5") == backends
    assert "has no stamp" in capsys.readouterr().err
    with pytest.raises(state.SavedStateError, match="saved by moto 5.2.5"):
        state.backends_of(backends, moto_version="5.3.0")


def test_the_emulator_refuses_to_start_on_state_of_another_moto_with_what_to_do(tmp_path):
    path = tmp_path / "emulator.pickle"
    path.write_bytes(pickle.dumps({"format": state.STATE_FORMAT, "moto": "5.1.0", "backends": {}}))
    run = subprocess.run([sys.executable, "-m", "devstack.emulator", "--port", "0", "--state", str(path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip().startswith("emulator refused to start:") and "make wipe" in run.stderr
    assert "Traceback" not in run.stderr


def test_state_saved_before_the_patches_moved_still_unpickles():
    """State written by the previous layout pickled Cognito's RSA keys through
    `devstack.emulator._load_rsa_key`: `make run` after an upgrade must still read it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    class Key:
        def __reduce__(self):
            return state._load_rsa_key, (pem,)

    written = pickle.dumps(Key(), protocol=2)  # GLOBAL opcodes: "c<module>\n<name>\n"
    assert b"cdevstack.moto_patches.state\n_load_rsa_key\n" in written
    old = written.replace(b"cdevstack.moto_patches.state\n", b"cdevstack.emulator\n")
    restored = pickle.loads(old)
    assert restored.private_numbers() == key.private_numbers()


def _layout(node, copies: dict | None = None):
    """A tree as classes, attributes in order and leaf values, parents as the position of their node."""
    copies = {} if copies is None else copies
    if isinstance(node, list):
        return [_layout(v, copies) for v in node]
    if hasattr(node, "__dict__"):
        copies.setdefault(id(node), len(copies))
        return (type(node).__name__, copies[id(node)],
                [(k, copies.get(id(v)) if k == "parent" and v is not None else _layout(v, copies))
                 for k, v in node.__dict__.items()])
    return node


@pytest.mark.parametrize("text", [
    "SET #a = :a, #b = if_not_exists(#b, :b), #c = list_append(#c, :c), #d.e[2] = :d REMOVE #x, #y[1] ADD #n :one DELETE #s :s",
    "SET " + ", ".join(f"#k{i} = :v{i}" for i in range(22)),
    "SET #a = #a + :one, #b = #b - :one REMOVE #c"])
def test_the_validators_copy_of_a_tree_is_the_one_deepcopy_makes(text):
    """`expressions.copied_tree`, the validator's copy of a parsed UpdateExpression, is what
    `copy.deepcopy` makes: the same classes, attributes in the same order, parents pointing into
    the copy, nothing shared with the kept tree but strings; other values go to `copy.deepcopy`."""
    import copy

    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    from devstack.moto_patches import expressions

    tree = UpdateExpressionParser.make(text)
    copied = expressions.copied_tree(tree)
    assert _layout(copied) == _layout(copy.deepcopy(tree)) == _layout(tree)
    originals, copies = {}, {}
    _layout(tree, originals), _layout(copied, copies)
    assert not originals.keys() & copies.keys()
    value = DynamoType({"L": [{"S": "x"}]})
    assert expressions.copied_tree(value) == value and expressions.copied_tree(value) is not value


HEADER_BLOCKS = [
    b"\r\n",
    b"Host: 127.0.0.1:4566\r\nContent-Length: 3\r\nX-Amz-Date:  20261207T035000Z \r\n"
    b"Authorization: AWS4-HMAC-SHA256 Credential=local/20261207/us-east-1/s3/aws4_request, SignedHeaders=host\r\n\r\n",
    b"Host: x\nAccept-Encoding: identity\n\n",  # bare newlines
    b"X-Amz-Meta-Cafe: cr\xe8me\r\nx-amz-meta-my_key:v\r\nEmpty:\r\nTabbed:\t v\t\r\n\r\n",  # latin-1 value, empty
    b"X-Amz-Meta-Caf\xe9: cr\xe8me\r\n\r\n",  # a latin-1 name: the email package's
    b"Host: x\r\n folded continuation\r\n\r\n",  # continuation line: the email package's
    b"Host: x\r\n: no name\r\n\r\n",  # a defect
    b"Host: x\r\nFrom nowhere\r\n\r\n",
    b"Host: x\r\nno colon here\r\nAfter: it\r\n\r\n",  # the body starts: the email package's
    b"Host: x\rAfter: cr\r\n\r\n",  # a bare carriage return
    b"Host: x\r\r\nAfter: it\r\n\r\n",
    b"Host: x\r\nName With Space: y\r\n\r\n",
    b"Host: x\r\n",  # the connection ended before the empty line
]


@pytest.mark.parametrize("block", HEADER_BLOCKS)
def test_request_headers_parse_as_the_email_package_parses_them(block):
    """`server.parse_headers`, the emulator's reading of a request's header lines, makes the
    `HTTPMessage` that `http.client`'s own (through the `email` package) makes, defects included,
    and leaves the stream where it does."""
    import io

    from devstack.moto_patches import server

    fast, own = io.BytesIO(block + b"body"), io.BytesIO(block + b"body")
    mine, theirs = server.parse_headers(fast), server._email_parse_headers(own)
    assert type(mine) is type(theirs)
    assert {k: v for k, v in vars(mine).items() if k != "defects"} == {k: v for k, v in vars(theirs).items() if k != "defects"}
    assert [type(d) for d in mine.defects] == [type(d) for d in theirs.defects]
    assert fast.read() == own.read()


def _value(shape, rng, depth: int = 0):
    """A JSON value for `shape` as a client could send it: any subset of a structure's members,
    some sent as null, some unknown names, nested attribute values, base64 blobs."""
    import base64

    kind = shape.type_name
    if kind == "structure":
        members = list(shape.members.items())
        chosen = rng.sample(members, rng.randint(0, min(len(members), 1 if depth > 3 else 4)))
        value = {member.serialization.get("name", name): (None if rng.random() < 0.1 else _value(member, rng, depth + 1))
                 for name, member in chosen}
        if rng.random() < 0.2:
            value["Unknown"] = "x"
        return value
    if kind == "list":
        return [_value(shape.member, rng, depth + 1) for _ in range(rng.randint(0, 0 if depth > 3 else 3))]
    if kind == "map":
        return {f"k{n}": _value(shape.value, rng, depth + 1) for n in range(rng.randint(0, 0 if depth > 3 else 3))}
    if kind == "blob":
        return base64.b64encode(rng.randbytes(rng.randint(0, 9))).decode()
    if kind == "timestamp":
        return rng.choice([1700000000, 1700000000.5, "2026-12-07T06:00:00Z"])
    if kind in ("integer", "long", "byte", "short"):
        return rng.choice([0, 7, "12"])
    if kind in ("float", "double"):
        return rng.choice([0.5, 3, "1.25"])
    if kind == "boolean":
        return rng.choice([True, False])
    return rng.choice(["", "text", "a:b"])


def _outcome(parse, value):
    try:
        return ("parsed", parse(value))
    except Exception as error:  # noqa: BLE001 (the same exception is what is compared)
        return ("raised", type(error).__name__)


def test_dynamodb_requests_parse_as_moto_parses_them():
    """Every DynamoDB operation's input, 40 random requests each (members in any order, some null,
    unknown names, attribute values nested to depth 4, blobs, numbers as strings) and wrong types
    where objects are expected: the walkers built once per shape (`devstack/moto_patches/parser.py`)
    give what moto's `JSONParser` gives, key order included, or raise what it raises."""
    import json
    import random
    from functools import partial

    from moto.core import parse
    from moto.core.utils import get_service_model

    from devstack.moto_patches import parser

    model = get_service_model("dynamodb")
    rng = random.Random(23)
    compared = 0
    for name in model.operation_names:
        operation = model.operation_model(name)
        shape = operation.input_shape
        if shape is None:
            continue
        moto_walk = partial(parse.JSONParser(operation)._parse_shape, shape)
        values = [_value(shape, rng) for _ in range(40)]
        values += [None, [], "text", {"Item": []}, {"Key": {"pk": "not a structure"}}, {"TransactItems": {}}]
        for value in values:
            mine, theirs = _outcome(parser.walker(shape), value), _outcome(moto_walk, value)
            assert json.dumps(mine, default=repr) == json.dumps(theirs, default=repr), (name, value)
            compared += 1
    assert compared > 40 * 50


def test_an_objects_etag_is_the_md5_moto_computes_in_memory_or_rolled_over():
    """`s3_put.install`: an ETag hashed from the key's buffer where it lies is the MD5 of the
    body (empty, one byte, 512 KiB, and 9 MiB rolled over to a temporary file, which moto's own
    property reads), the buffer left at its end as moto's read leaves it, the body unchanged."""
    import hashlib
    import os

    from moto.s3.models import FakeKey

    moto_patches.install()
    assert getattr(FakeKey.etag.fget, "obelisk_patched", False)
    for body, buffer_size in ((b"", None), (b"x", None), (os.urandom(512 * 1024), None), (os.urandom(9 << 20), 1024)):
        key = FakeKey("k", body, "123456789012", "us-east-1", max_buffer_size=buffer_size)
        assert key._value_buffer._rolled == (buffer_size is not None)
        assert key.etag == f'"{hashlib.md5(body).hexdigest()}"'
        assert key._value_buffer.tell() == len(body)
        assert key.value == body and key.etag == f'"{hashlib.md5(body).hexdigest()}"'


def test_a_keys_body_is_held_where_it_lies_and_reads_as_moto_reads_it():
    """`s3_put.install`: bytes that fit the key's buffer in memory are held, not copied (the
    buffer's file shares them), and read back, hashed, pickled and overwritten as moto's own
    setter would leave them; text and bodies larger than the buffer go through moto's setter."""
    import hashlib
    import os

    from moto.s3.models import FakeKey

    moto_patches.install()
    body = os.urandom(512 * 1024)
    key = FakeKey("k", body, "123456789012", "us-east-1")
    assert key._value_buffer._file.getvalue() is body  # shared, not copied
    assert key._value_buffer.tell() == len(body) == key.contentsize
    assert key.value == body and key.etag == f'"{hashlib.md5(body).hexdigest()}"'
    assert pickle.loads(pickle.dumps(key)).value == body
    key.value = b"shorter"  # overwritten: the shared bytes are left alone
    assert key.value == b"shorter" and key.contentsize == 7 and len(body) == 512 * 1024
    assert FakeKey("t", "text", "123456789012", "us-east-1").value == b"text"
    large = FakeKey("l", os.urandom(4096), "123456789012", "us-east-1", max_buffer_size=1024)
    assert large._value_buffer._rolled and len(large.value) == 4096


def test_a_versioned_buckets_noncurrent_versions_and_delete_markers_survive_a_save(tmp_path):
    """Round 18's F2: moto's key store pickled as a dict kept each key's latest version only, so a
    restart of `make run` lost what a versioned bucket keeps of overwritten and deleted objects."""
    import boto3
    from moto import mock_aws
    from moto.backends import get_backend

    path = str(tmp_path / "emulator-s3.pickle")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="kept")
        s3.put_bucket_versioning(Bucket="kept", VersioningConfiguration={"Status": "Enabled"})
        first = s3.put_object(Bucket="kept", Key="k", Body=b"one")["VersionId"]
        s3.put_object(Bucket="kept", Key="k", Body=b"two")
        s3.put_object(Bucket="kept", Key="d", Body=b"gone")
        s3.delete_object(Bucket="kept", Key="d")
        before = s3.list_object_versions(Bucket="kept")
        state.save(path, state.S3_SERVICES)
        get_backend("s3").reset()
        state.load(path, state.S3_SERVICES)
        after = s3.list_object_versions(Bucket="kept")
        assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in after["Versions"]] == \
            [(v["Key"], v["VersionId"], v["IsLatest"]) for v in before["Versions"]]
        assert len(after["Versions"]) == 3 and len(after["DeleteMarkers"]) == 1
        assert s3.get_object(Bucket="kept", Key="k", VersionId=first)["Body"].read() == b"one"


def test_a_transaction_sent_again_with_its_token_is_applied_once():
    """moto ignores a transaction's `ClientRequestToken`; `transactions.py` honours it as DynamoDB
    does: the same token and request again answers success and writes nothing, another request
    with it is refused (`IdempotentParameterMismatchException`), a cancelled transaction runs
    again, and one without a token runs each time."""
    import boto3
    from botocore.exceptions import ClientError
    from moto import mock_aws

    moto_patches.install()
    add = [{"Update": {"TableName": "t", "Key": {"pk": {"S": "a"}}, "UpdateExpression": "ADD n :one",
                       "ExpressionAttributeValues": {":one": {"N": "1"}}}}]
    needs_b = [{"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "b"}}, "ConditionExpression": "attribute_exists(pk)"}}]
    with mock_aws(), moto_patches.ONE_AT_A_TIME:
        db = boto3.client("dynamodb", region_name="us-east-1")
        db.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])

        def count() -> int:
            return int(db.get_item(TableName="t", Key={"pk": {"S": "a"}})["Item"]["n"]["N"])

        for _ in range(3):
            db.transact_write_items(TransactItems=add, ClientRequestToken="same")
        assert count() == 1
        with pytest.raises(ClientError) as refused:
            db.transact_write_items(TransactItems=add + [{"Put": {"TableName": "t", "Item": {"pk": {"S": "c"}}}}],
                                    ClientRequestToken="same")
        assert refused.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
        with pytest.raises(ClientError) as cancelled:
            db.transact_write_items(TransactItems=add + needs_b, ClientRequestToken="cancelled-first")
        assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
        db.put_item(TableName="t", Item={"pk": {"S": "b"}})
        db.transact_write_items(TransactItems=add + needs_b, ClientRequestToken="cancelled-first")
        db.transact_write_items(TransactItems=add)  # botocore gives each call a token of its own
        db.transact_write_items(TransactItems=add)
        assert count() == 4


def test_a_message_is_sent_and_received_without_counting_the_queue_and_the_queue_still_counts():
    """moto counted every message of the queue (against the clock) on each send, on each message
    received (its retention check) and three times per attribute asked: O(queue) per message
    (outside check round 19: a receive of 10 took ~2 s at 2,000 held). Sends, receives and
    attribute reads without counts count nothing now; counts are computed once per call and
    still right, and a FIFO queue's content-based deduplication (what a send reads) still holds."""
    run = _python("""
import boto3
from moto import mock_aws
from moto.sqs.models import Message
from devstack import moto_patches
moto_patches.install()
looked = []
visible = Message.visible
Message.visible = property(lambda self: looked.append(1) or visible.fget(self))
with mock_aws():
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    for start in range(0, 300, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(10)])
    looked.clear()
    sqs.send_message(QueueUrl=url, MessageBody="one")
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "two"}])
    print("looked", len(looked))
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    looked.clear()
    print("counted", sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"])
    print("counted once", len(looked) <= 2 * 302)  # each message's visibility, for two counters
    looked.clear()
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    print("uncounted", len(looked), arn.endswith(":q"))
    looked.clear()
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30)["Messages"]
    print("received", len(received), len(looked) <= 302 + 10)  # the visible messages listed once
    after = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    print("after", after["ApproximateNumberOfMessages"], after["ApproximateNumberOfMessagesNotVisible"])
    fifo = sqs.create_queue(QueueName="f.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    for _ in range(2):
        sqs.send_message(QueueUrl=fifo, MessageBody="same", MessageGroupId="g")
    print("fifo", sqs.get_queue_attributes(QueueUrl=fifo, AttributeNames=["All"])["Attributes"]["ApproximateNumberOfMessages"])
""")
    assert run.returncode == 0, run.stderr
    assert "looked 0" in run.stdout
    assert "'ApproximateNumberOfMessages': '302'" in run.stdout and "'ApproximateNumberOfMessagesNotVisible': '0'" in run.stdout
    assert "counted once True" in run.stdout and "uncounted 0 True" in run.stdout
    assert "received 10 True" in run.stdout and "after 292 10" in run.stdout
    assert "fifo 1" in run.stdout


def test_an_item_projects_as_moto_projects_it():
    """The patched `Item.project` (each path converts its root attribute alone) answers the item
    moto's answers: top-level names, nested maps, list elements, missing paths, several paths
    under one root, numbers, number sets and binary values."""
    run = _python("""
from moto.dynamodb.models.dynamo_type import Item, DynamoType
item = {"pk": {"S": "A#1"}, "sk": {"S": "STUDY#9"}, "n": {"N": "01.50"}, "ns": {"NS": ["3", "1"]},
        "b": {"B": "AAEC"}, "ok": {"BOOL": True}, "none": {"NULL": True},
        "attributes": {"M": {"00100010": {"M": {"vr": {"S": "PN"}, "Value": {"L": [{"M": {"Alphabetic": {"S": "Rossi^Anna"}}}]}}},
                             "00080061": {"M": {"vr": {"S": "CS"}, "Value": {"L": [{"S": "CT"}, {"S": "MR"}]}}}}},
        "list": {"L": [{"S": "zero"}, {"M": {"deep": {"N": "7"}}}, {"L": [{"S": "x"}]}]},
        "a[1]": {"S": "a literal bracket"}}
paths = [[["pk"]], [["sk"], ["n"], ["ns"]], [["b"], ["ok"], ["none"]], [["attributes"]],
         [["attributes", "00100010"]], [["attributes", "00100010", "Value"], ["attributes", "00080061", "vr"]],
         [["attributes"], ["attributes", "00080061"]], [["attributes", "00080061"], ["attributes"]], [["list[1]"]], [["list[1]", "deep"]], [["list[5]"]],
         [["list[2]"], ["list[0]"]], [["missing"]], [["attributes", "missing"]], [["a[1]"]], [["pk"], ["missing"], ["list"]]]
def answers():
    one = Item(DynamoType(item["pk"]), DynamoType(item["sk"]), item)
    return [one.project(p).to_json() for p in paths]
before = answers()
from devstack import moto_patches
moto_patches.install()
assert Item.project.obelisk_patched
after = answers()
for p, b, a in zip(paths, before, after):
    assert repr(a) == repr(b), (p, b, a)  # the same attributes in the same order
print("same", len(paths))
""")
    assert run.returncode == 0, run.stderr
    assert "same 16" in run.stdout


def test_a_result_walks_into_the_dicts_moto_walks_it_into():
    """`serializer.to_dicts` (exact types first) gives what moto's `dynamo_to_dict` gives, on
    items of every attribute type and on what else a result holds."""
    import datetime
    from decimal import Decimal

    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.models.utilities import dynamo_to_dict

    from devstack.moto_patches.serializer import to_dicts

    item = LimitedSizeDict()
    for name, value in {"s": {"S": "x"}, "n": {"N": "01.5"}, "b": {"B": "AAEC"}, "bs": {"BS": ["AAE=", b"\x00"]},
                        "raw": {"B": b"\x01\x02"}, "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]},
                        "ok": {"BOOL": False}, "none": {"NULL": True},
                        "m": {"M": {"l": {"L": [{"S": "e"}, {"N": "3"}, {"M": {}}, {"L": []}]}, "b": {"B": "AAE="}}}}.items():
        dict.__setitem__(item, name, DynamoType(value))
    result = {"Items": [item, {"k": DynamoType({"S": "v"})}], "Count": 2, "ScannedCount": 2.0, "Flag": True,
              "LastEvaluatedKey": None, "When": datetime.datetime(2026, 12, 7), "Capacity": Decimal("1.5"),
              "Nested": [[{"x": DynamoType({"N": "1"})}]]}
    assert repr(to_dicts(result)) == repr(dynamo_to_dict(result))


def test_an_answer_without_an_xml_request_id_is_left_as_it_is_and_gets_its_header():
    run = _python("""
from moto.core.responses import BaseResponse
from devstack import moto_patches
moto_patches.install()
headers, body = BaseResponse._enrich_response({"status": 200}, '{"Items": []}')
print(headers["status"] == "200", len(headers["x-amzn-requestid"]) == 52, body)
headers, body = BaseResponse._enrich_response({}, "<R><RequestId>old</RequestId></R>")
print(body.replace(headers["x-amzn-requestid"], "NEW"))
""")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ['True True {"Items": []}', "<R><RequestId>NEW</RequestId></R>"]


def test_a_handlers_methods_are_listed_once_and_as_moto_lists_them():
    run = _python("""
import moto.core.responses as responses
from moto.dynamodb.responses import DynamoHandler
listed = responses.method_names_from_class(DynamoHandler)
from devstack import moto_patches
moto_patches.install()
print(responses.method_names_from_class(DynamoHandler) == listed, responses.method_names_from_class(DynamoHandler) is responses.method_names_from_class(DynamoHandler))
""")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["True", "True"]
