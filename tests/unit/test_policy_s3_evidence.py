"""Shipping evidence to S3 with Object Lock (moto): every entry lands under its own key with a
COMPLIANCE retention, reads back by version equal to the local entry, is never shipped twice,
queues durably while S3 is unreachable and ships in order afterwards; Finplane never calls an API
that could shorten a retention or delete evidence (moto would allow it, real S3 would not); every writer's
chain of a record is shipped under its own prefix, and the newest shipped entry of each chain catches that
chain cut short on the volume.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from finplane.external.s3_evidence import S3EvidenceShipper
from finplane.policy.evidence import EvidenceLog, read_entries
from tests.support import free_port

FORBIDDEN = {"DeleteObject", "DeleteObjects", "PutObjectRetention", "PutObjectLegalHold",
             "PutObjectLockConfiguration", "DeleteBucket"}


def spy(client: Any) -> list[str]:
    calls: list[str] = []
    client.meta.events.register("before-call.s3.*", lambda model, **_: calls.append(model.name))
    return calls


@pytest.fixture
def s3() -> Any:
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        client.create_bucket(Bucket="evidence", ObjectLockEnabledForBucket=True,
                             CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield client


def log_with(tmp_path: Path, n: int) -> EvidenceLog:
    log = EvidenceLog(tmp_path / "evidence.jsonl")
    for i in range(n):
        log.append({"type": "result", "key": f"k{i}", "result": "fail"})
    return log


def test_each_entry_is_stored_once_with_a_compliance_retention_and_reads_back_by_version(
        s3: Any, tmp_path: Path) -> None:
    log = log_with(tmp_path, 3)
    calls = spy(s3)
    shipper = S3EvidenceShipper(bucket="evidence", state_dir=tmp_path, client=s3, retention_days=30)
    result = shipper.ship(log.path)
    assert (result.shipped, result.queued, result.error) == (3, 0, None)
    entries = [e for _, e in read_entries(log.path)]
    assert len(entries) == 3
    for entry in entries:
        head = s3.head_object(Bucket="evidence", Key=shipper.key_for(entry))
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC)
        assert shipper.read_back(entry) == entry
    assert shipper.ship(log.path).shipped == 0  # nothing twice
    assert not FORBIDDEN & set(calls)


def test_entries_queue_while_s3_is_unreachable_and_ship_in_order_afterwards(s3: Any, tmp_path: Path) -> None:
    log = log_with(tmp_path, 2)
    down = S3EvidenceShipper(bucket="evidence", state_dir=tmp_path, region="eu-west-1",
                             endpoint_url=f"http://127.0.0.1:{free_port()}")
    result = down.ship(log.path)
    assert result.shipped == 0 and result.queued == 2 and result.error
    log.append({"type": "result", "key": "k2", "result": "pass"})
    up = S3EvidenceShipper(bucket="evidence", state_dir=tmp_path, client=s3)
    assert up.ship(log.path).shipped == 3
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="evidence")["Contents"]]
    assert keys == sorted(keys) and len(keys) == 3


def test_every_writers_chain_is_shipped_under_its_own_prefix_and_anchors_the_record(s3: Any, tmp_path: Path) -> None:
    from finplane.policy.evidence import open_chain
    from finplane.policy.evidence_anchors import anchor_from_document
    from finplane.policy.evidence_merge import verify_record

    record = tmp_path / "evidence"
    op, api = open_chain(record, writer="op-0"), open_chain(record, writer="api-0")
    op.append({"type": "mode", "policy": "p", "mode": "audit"})
    api.append({"type": "api-change", "action": "create"})
    api.append({"type": "api-change", "action": "update"})
    calls = spy(s3)
    shipper = S3EvidenceShipper(bucket="evidence", state_dir=record, client=s3)
    result = shipper.ship_record(record)
    assert (result.shipped, result.queued, result.error) == (op.seq + api.seq, 0, None)
    assert shipper.ship_record(record).shipped == 0  # never twice
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="evidence")["Contents"]]
    assert {k.split("/")[2] for k in keys} == {"op-0", "api-0"}
    heads = shipper.latest_heads()
    assert {c: e["hash"] for c, e in heads.items()} == {"op-0": op.head, "api-0": api.head}
    assert not FORBIDDEN & set(calls)
    anchors = [anchor_from_document(e, source=f"s3 {c}") for c, e in heads.items()]
    assert verify_record(record, anchors=anchors).ok
    path = record / "chains" / "api-0.jsonl"
    path.write_text(path.read_text().splitlines()[0] + "\n")  # the API's last change cut from the volume
    rv = verify_record(record, anchors=anchors)
    assert not rv.ok and any("s3 api-0" in p for p in rv.problems), rv.problems
