"""Shipping evidence to S3 with Object Lock (moto): every entry lands under its own key with a
COMPLIANCE retention, reads back by version equal to the local entry, is never shipped twice,
queues durably while S3 is unreachable and ships in order afterwards; Finplane never calls an API
that could shorten a retention or delete evidence (moto would allow it, real S3 would not).
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
