"""Ship the evidence log to S3 with Object Lock in compliance mode (the one boto3 user for evidence).

Called by the compliance reconciler (in a thread) after entries are appended: `ship_record` ships
every writer's chain of the evidence folder (the shared evidence.jsonl, and chains/<writer>.jsonl of
each pod). Each entry becomes one object under a unique key (`<prefix><seq>-<hash>.json` for the
shared chain, `<prefix><writer>/<seq>-<hash>.json` for a writer's) written with a COMPLIANCE-mode
retention, so not even the account root can shorten or delete it before the date. This module
never calls DeleteObject(s) or PutObjectRetention: retention is only ever set at write time.

The local log is the durable queue: a marker file records the last shipped sequence number, so
entries written while S3 is unreachable are shipped, in order, once it answers again; nothing is
dropped and nothing is shipped twice under different keys.

`latest_heads` reads back the newest shipped entry of every chain: signed heads that a writer of the
local files cannot take back, which `finplane evidence verify --s3-bucket` uses as anchors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from finplane.policy.evidence import read_entries
from finplane.policy.evidence_record import chain_files

__all__ = ["ShipResult", "S3EvidenceShipper"]


@dataclass(frozen=True)
class ShipResult:
    shipped: int
    queued: int
    error: str | None = None
    last_key: str | None = None


class S3EvidenceShipper:
    def __init__(self, *, bucket: str, prefix: str = "finplane/evidence/", region: str = "us-east-1",
                 retention_days: int = 2557, endpoint_url: str | None = None, state_dir: Path,
                 client: Any = None) -> None:
        self.bucket, self.prefix, self.retention_days = bucket, prefix, retention_days
        self.marker = state_dir / f"s3-shipped-{bucket}.json"
        self.client = client or boto3.client(
            "s3", region_name=region, endpoint_url=endpoint_url,
            config=Config(retries={"max_attempts": 2}, connect_timeout=2, read_timeout=10))

    def key_for(self, entry: dict[str, Any]) -> str:
        chain = f"{entry['chain']}/" if entry.get("chain") else ""
        return f"{self.prefix}{chain}{int(entry['seq']):012d}-{entry['hash'][:16]}.json"

    def _marker(self, chain: str) -> Path:
        return self.marker if not chain else self.marker.with_name(f"{self.marker.stem}-{chain}.json")

    def _shipped_seq(self, chain: str = "") -> int:
        try:
            return int(json.loads(self._marker(chain).read_text())["seq"])
        except (OSError, ValueError, KeyError):
            return 0

    def _mark(self, entry: dict[str, Any], version: str | None) -> None:
        marker = self._marker(str(entry.get("chain") or ""))
        marker.parent.mkdir(parents=True, exist_ok=True)
        tmp = marker.with_suffix(".tmp")
        tmp.write_text(json.dumps({"seq": entry["seq"], "hash": entry["hash"], "versionId": version}))
        tmp.replace(marker)  # atomic: a crash leaves the old or the new marker, never half of one

    def pending(self, log: Path, *, chain: str = "") -> list[dict[str, Any]]:
        done = self._shipped_seq(chain)
        return [e for _, e in read_entries(log) if int(e.get("seq", 0)) > done]

    def ship_record(self, directory: Path, *, now: datetime | None = None) -> ShipResult:
        """Ship every chain of the evidence folder `directory`; the first failure stops (the rest stays queued)."""
        shipped, queued, last = 0, 0, None
        for chain, path in chain_files(directory).items():
            r = self.ship(path, chain=chain, now=now)
            shipped, queued, last = shipped + r.shipped, queued + r.queued, r.last_key or last
            if r.error:
                rest = sum(len(self.pending(p, chain=c)) for c, p in chain_files(directory).items() if c > chain)
                return ShipResult(shipped, queued + rest, r.error, last)
        return ShipResult(shipped, queued, None, last)

    def ship(self, log: Path, *, chain: str = "", now: datetime | None = None) -> ShipResult:
        """Ship every entry after the marker, in order; stop at the first failure (kept queued)."""
        todo = self.pending(log, chain=chain)
        shipped, last = 0, None
        for entry in todo:
            until = (now or datetime.now(UTC)) + timedelta(days=self.retention_days)
            key = self.key_for(entry)
            try:
                resp = self.client.put_object(
                    Bucket=self.bucket, Key=key, ContentType="application/json",
                    Body=(json.dumps(entry, sort_keys=True) + "\n").encode(),
                    ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until, ChecksumAlgorithm="SHA256")
            except (BotoCoreError, ClientError) as exc:
                return ShipResult(shipped, len(todo) - shipped, f"{type(exc).__name__}: {exc}"[:512], last)
            self._mark(entry, resp.get("VersionId"))
            shipped, last = shipped + 1, key
        return ShipResult(shipped, 0, None, last)

    def read_back(self, entry: dict[str, Any]) -> dict[str, Any]:
        """The shipped copy of `entry`, read by the version recorded when it was written (or the latest)."""
        key = self.key_for(entry)
        versions = self.client.list_object_versions(Bucket=self.bucket, Prefix=key).get("Versions", [])
        version = next((v["VersionId"] for v in versions if v["Key"] == key), None)
        kwargs = {"VersionId": version} if version else {}
        body = self.client.get_object(Bucket=self.bucket, Key=key, **kwargs)["Body"].read()
        return dict(json.loads(body))

    def latest_heads(self) -> dict[str, dict[str, Any]]:
        """The shipped entry with the highest sequence number of every chain (keys sort by it), by chain id."""
        newest: dict[str, str] = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                chain, _, name = key[len(self.prefix):].rpartition("/")
                if name.endswith(".json") and (chain not in newest or key > newest[chain]):
                    newest[chain] = key
        return {chain: dict(json.loads(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()))
                for chain, key in newest.items()}

    def latest(self) -> dict[str, Any] | None:
        """The newest shipped entry of the shared chain, or None when none was shipped."""
        return self.latest_heads().get("")
