"""`finplane evidence verify | export | public-key`: what auditors run.

verify checks the chain and the signatures of the evidence log and that it reaches the heads
recorded outside it (`--expect-head`, `--anchor` an earlier export or an S3 copy, `--kubeconfig`
for the policies' status, `--s3-bucket` for the newest entry shipped to S3), naming what is wrong
(exit 1). export writes a point-in-time bundle: the state of every result at `--to` ("what was
true on date X"), the entries between `--from` and `--to`, optionally for one team, as JSON and
CSV with the chain's signed head, and the same as OSCAL assessment-results (validated); it exits
1 when the chain does not verify. public-key prints the key auditors verify signatures with.
Both find the log `finplane dev` writes when no `--path` is given, and say where they looked when
there is none (exit 2). Registered on the `finplane` command by `finplane.cli`.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from finplane.policy.evidence_keys import TrustedKeys
    from finplane.policy.evidence_verify import Anchor

__all__ = ["DEV_STATE_DIR", "app", "export", "find_log", "public_key", "verify"]

app = typer.Typer(no_args_is_help=True, help="The tamper-evident evidence log.")
LOG_NAME = "evidence.jsonl"  # finplane.policy.evidence_record.LOG_NAME (not imported: `finplane --help` stays fast)
CHAINS = "chains"  # finplane.policy.evidence_record.CHAINS: one chain per writer (a pod) under it
DEV_STATE_DIR = Path(".finplane/dev")  # `finplane dev --state-dir`'s default; dev.py writes <it>/evidence/
SETTINGS_DIR = Path(".finplane/evidence")  # finplane.settings.Settings.evidence_dir's default


def candidates() -> list[tuple[Path, str]]:
    """Where a log is looked for, in order, and why there."""
    out = []
    env = os.environ.get("FINPLANE_EVIDENCE_DIR")
    if env:
        out.append((Path(env) / LOG_NAME, "$FINPLANE_EVIDENCE_DIR"))
    out += [(DEV_STATE_DIR / "evidence" / LOG_NAME, "where `finplane dev` writes"),
            (SETTINGS_DIR / LOG_NAME, "the operator's default evidence_dir")]
    return out


def _record_or_log(folder: Path) -> Path | None:
    """A folder's record: the folder when it holds writers' chains (chains/), its evidence.jsonl when only that."""
    if (folder / CHAINS).is_dir() and any((folder / CHAINS).glob("*.jsonl")):
        return folder
    return folder / LOG_NAME if (folder / LOG_NAME).is_file() else None


def find_log(path: Path | None, *, kubeconfig: Path | None = None) -> Path | None:
    """`path` (a log file, or a record folder), else the first candidate that exists; None (after saying where it
    looked, and with `kubeconfig` where the cluster keeps its record) when none does."""
    if path is not None:
        found = path if path.is_file() else _record_or_log(path) if path.is_dir() else None
        if found is not None:
            return found
        typer.echo(f"{path}: no evidence log (no such file, nor a folder holding {LOG_NAME} or {CHAINS}/*.jsonl)",
                   err=True)
        return None
    for log, _why in candidates():
        found = _record_or_log(log.parent)
        if found is not None:
            return found
    looked = "; ".join(f"{log.resolve()} or {(log.parent / CHAINS).resolve()}/*.jsonl ({why})"
                       for log, why in candidates())
    typer.echo(f"no evidence log found; looked at: {looked}. Give one with --path.", err=True)
    if kubeconfig is not None:
        typer.echo(_cluster_hint(kubeconfig), err=True)
    return None


def _cluster_hint(kubeconfig: Path) -> str:
    """Where the cluster of `kubeconfig` keeps its record (the operator's evidence volume or S3), or why unknown."""
    try:
        return asyncio.run(_locate(kubeconfig))
    except Exception as exc:  # noqa: BLE001 - the hint must not hide the answer "no log here"
        return f"the cluster of {kubeconfig} could not be asked where its evidence record is: {exc}"


async def _locate(kubeconfig: Path) -> str:
    """The evidence volume and S3 bucket of the Finplane operator Deployments in the cluster, as a sentence."""
    from finplane.kube.client import Kube

    kube = await Kube.from_config(kubeconfig=str(kubeconfig))
    try:
        found = await kube.list("apps/v1", "Deployment", label_selector="app.kubernetes.io/name=finplane,"
                                                                        "app.kubernetes.io/component=operator")
        out = []
        for d in found:
            meta, pod = d["metadata"], d["spec"]["template"]["spec"]
            claims = [v["persistentVolumeClaim"]["claimName"] for v in pod.get("volumes", [])
                      if v.get("name") == "evidence" and v.get("persistentVolumeClaim")]
            where = (f"PersistentVolumeClaim {meta['namespace']}/{claims[0]}" if claims else
                     "no evidence PersistentVolumeClaim (the record is only in S3, or on a pod's own volume)")
            config = await kube.get_or_none("v1", "ConfigMap", meta["name"], meta["namespace"])
            bucket = ((config or {}).get("data") or {}).get("FINPLANE_EVIDENCE_S3_BUCKET")
            out.append(f"Deployment {meta['namespace']}/{meta['name']} keeps it on {where}, mounted at "
                       f"/var/lib/finplane/evidence: copy it out with `kubectl cp {meta['namespace']}/<operator pod>:"
                       f"/var/lib/finplane/evidence ./evidence` and give --path ./evidence"
                       + (f", or anchor on S3 with --s3-bucket {bucket}" if bucket else ""))
        if not out:
            return (f"the cluster of {kubeconfig} runs no Finplane operator Deployment (looked for Deployments "
                    "labelled app.kubernetes.io/name=finplane,app.kubernetes.io/component=operator)")
        return "the cluster's evidence record: " + "; ".join(out)
    finally:
        await kube.close()


def _keys(_log: Path, public_keys: list[Path], kubeconfig: Path | None = None) -> TrustedKeys | None:
    """--public-key files, else (with --kubeconfig) the keys the cluster publishes, else None: the key files
    beside the log."""
    from finplane.policy.evidence_keys import TrustedKeys, load_public_key

    keys = TrustedKeys()
    for p in public_keys:
        keys = keys.merged(load_public_key(p))
    if public_keys:
        return keys
    if kubeconfig is not None:
        published = asyncio.run(_published_keys(kubeconfig))
        if published:
            return published
    return None


async def _published_keys(kubeconfig: Path) -> TrustedKeys:
    """The public keys in the cluster's ConfigMaps labelled finplane.io/evidence-public-key (never a private key)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from finplane.kube.client import Kube
    from finplane.policy.evidence_keys import PUBLIC_KEY_LABEL, TrustedKeys, key_id

    kube = await Kube.from_config(kubeconfig=str(kubeconfig))
    try:
        found = await kube.list("v1", "ConfigMap", label_selector=f"{PUBLIC_KEY_LABEL}=true")
    finally:
        await kube.close()
    keys: dict[str, Ed25519PublicKey] = {}
    for cm in found:
        pub = serialization.load_pem_public_key(str((cm.get("data") or {}).get("public-key.pem", "")).encode())
        if isinstance(pub, Ed25519PublicKey):
            keys[key_id(pub)] = pub
    if keys:
        typer.echo(f"trusting the evidence key(s) {', '.join(sorted(keys))} published in the cluster of {kubeconfig}")
    return TrustedKeys(keys)


async def _policy_anchors(kubeconfig: Path) -> list[Anchor]:
    from finplane.kube.client import Kube
    from finplane.policy.evidence_anchors import anchors_from_policies

    kube = await Kube.from_config(kubeconfig=str(kubeconfig))
    try:
        return anchors_from_policies(await kube.list("finplane.io/v1alpha1", "CompliancePolicy"))
    finally:
        await kube.close()


def _s3_anchors(bucket: str, prefix: str) -> list[Anchor]:
    """The newest entry shipped of every chain: what a writer of the local files cannot take back."""
    from finplane.external.s3_evidence import S3EvidenceShipper
    from finplane.policy.evidence_anchors import anchor_from_document
    from finplane.settings import get_settings

    s = get_settings()
    shipper = S3EvidenceShipper(bucket=bucket, prefix=prefix, region=s.aws_region or "us-east-1",
                                endpoint_url=s.aws_endpoint_url, state_dir=Path(s.evidence_dir))
    return [anchor_from_document(entry, source=f"s3://{bucket}/{prefix}{chain + '/' if chain else ''} "
                                               "(newest shipped entry)")
            for chain, entry in sorted(shipper.latest_heads().items())]


def anchors(*, expect_head: list[str], anchor: list[Path], kubeconfig: Path | None,
            s3_bucket: str | None, s3_prefix: str) -> list[Anchor]:
    """Every anchor the options name; raises ValueError (or KubeError, or botocore's) when one cannot be read."""
    from finplane.policy.evidence_anchors import anchors_from_file
    from finplane.policy.evidence_verify import Anchor

    out = [Anchor("--expect-head", h.strip().lower()) for h in expect_head]
    out += [a for p in anchor for a in anchors_from_file(p)]
    if kubeconfig is not None:
        found = asyncio.run(_policy_anchors(kubeconfig))
        if not found:
            raise ValueError(f"no CompliancePolicy in the cluster of {kubeconfig} records an evidence head")
        out += found
    if s3_bucket:
        latest = _s3_anchors(s3_bucket, s3_prefix)
        if not latest:
            raise ValueError(f"nothing shipped under s3://{s3_bucket}/{s3_prefix}")
        out += latest
    return out


def verify(path: Path | None, *, public_keys: list[Path] | None = None, expect_head: list[str] | None = None,
           anchor: list[Path] | None = None, kubeconfig: Path | None = None, s3_bucket: str | None = None,
           s3_prefix: str = "finplane/evidence/") -> int:
    from finplane.policy.evidence_verify import verify_log

    log = find_log(path, kubeconfig=kubeconfig)
    if log is None:
        return 2
    try:
        keys = _keys(log, public_keys or [], kubeconfig)
        heads = anchors(expect_head=expect_head or [], anchor=anchor or [], kubeconfig=kubeconfig,
                        s3_bucket=s3_bucket, s3_prefix=s3_prefix)
    except Exception as exc:  # noqa: BLE001 - a bad key file, anchor, cluster or bucket: say which, exit 2
        typer.echo(f"cannot read the keys or anchors: {exc}", err=True)
        return 2
    if log.is_dir():
        return _verify_record(log, keys, heads)
    in_record = log.parent.name == CHAINS  # one writer's chain, given by itself
    v = verify_log(log, keys=keys, anchors=heads, chain=log.stem if in_record else None,
                   key_log=log.parent.parent / LOG_NAME if in_record else None)
    for note in v.notes:
        typer.echo(f"note: {note}")
    if not v.ok:
        where = f"line {v.bad_line}: " if v.bad_line is not None else ""
        typer.echo(f"{log}: FAILED: {where}{v.reason} ({v.entries} entries verified before it)")
        return 1
    dev_kubeconfig = DEV_STATE_DIR / "kubeconfig"
    if not v.anchors and log.resolve().is_relative_to(DEV_STATE_DIR.resolve()) and dev_kubeconfig.exists():
        typer.echo(f"hint: `finplane dev` is running here: add --kubeconfig {dev_kubeconfig} to anchor on the "
                   "policies' status")
    kid = (v.head_entry or {}).get("kid")
    typer.echo(f"{log}: OK, {v.entries} entries signed by key {kid}, head {v.head}"
               + (f"; reaches {', '.join(v.anchors)}" if v.anchors else "; NOT ANCHORED"))
    return 0


def _verify_record(folder: Path, keys: TrustedKeys | None, heads: list[Anchor]) -> int:
    """verify for a record of several writers' chains: every chain, their witnessed heads, the anchors."""
    from finplane.policy.evidence_merge import chain_label, verify_record

    rv = verify_record(folder, keys=keys, anchors=heads)
    for note in rv.notes:
        typer.echo(f"note: {note}")
    chains = ", ".join(f"{chain_label(c)} ({v.entries} entries, head {v.head[:16]}…)" for c, v in rv.chains.items())
    if not rv.ok:
        for problem in rv.problems:
            typer.echo(f"{folder}: FAILED: {problem}")
        return 1
    kids = sorted({str((v.head_entry or {}).get("kid")) for v in rv.chains.values()})
    typer.echo(f"{folder}: OK, {len(rv.entries)} entries in {len(rv.chains)} chains signed by key {', '.join(kids)}, "
               f"record head {rv.head}; chains: {chains}"
               + (f"; reaches {', '.join(rv.anchors)}" if rv.anchors else "; NOT ANCHORED"))
    return 0


def export(path: Path | None, from_: str, to: str, team: str | None, out: Path, *,
           public_keys: list[Path] | None = None, expect_head: list[str] | None = None,
           anchor: list[Path] | None = None, kubeconfig: Path | None = None) -> int:
    from finplane.policy.evidence_bundle import bundle_csv, load_bundle, parse_range
    from finplane.policy.evidence_merge import load_record_bundle
    from finplane.policy.evidence_oscal import assessment_results, validate

    log = find_log(path, kubeconfig=kubeconfig)
    if log is None:
        return 2
    try:
        start, end = parse_range(from_, to)
    except ValueError as exc:
        typer.echo(f"bad --from/--to: {exc}", err=True)
        return 2
    try:
        keys = _keys(log, public_keys or [], kubeconfig)
        heads = anchors(expect_head=expect_head or [], anchor=anchor or [], kubeconfig=kubeconfig,
                        s3_bucket=None, s3_prefix="")
    except Exception as exc:  # noqa: BLE001 - as for verify
        typer.echo(f"cannot read the keys or anchors: {exc}", err=True)
        return 2
    load = load_record_bundle if log.is_dir() else load_bundle
    bundle = load(log, start=start, end=end, team=team, keys=keys, anchors=heads)
    oscal = assessment_results(bundle)
    validate(oscal)  # a document auditors' tools would refuse is a bug here: fail loudly, write nothing
    head = bundle["chainHead"]
    out.mkdir(parents=True, exist_ok=True)
    (out / "bundle.json").write_text(json.dumps(bundle, indent=2, sort_keys=True), encoding="utf-8")
    (out / "state.csv").write_text(bundle_csv(bundle["stateAtTo"], head), encoding="utf-8")
    (out / "entries.csv").write_text(bundle_csv(bundle["entries"], head), encoding="utf-8")
    (out / "assessment-results.json").write_text(json.dumps(oscal, indent=2), encoding="utf-8")
    ok = bundle["chainVerified"]
    typer.echo(f"exported {len(bundle['stateAtTo'])} results as of {end.isoformat()} and {len(bundle['entries'])} "
               f"entries from {log} to {out} (bundle.json, state.csv, entries.csv, assessment-results.json); chain "
               + (f"verified, signed head seq {(bundle['signedHead'] or {}).get('seq')} {head}" if ok else
                  f"NOT verified: {bundle['problem']}" + (f" (line {bundle['brokenAtLine']})"
                                                         if bundle["brokenAtLine"] else "")))
    return 0 if ok else 1


def public_key(key_file: Path | None, path: Path | None) -> int:
    from finplane.policy.evidence_keys import default_key_file, load_public_key, public_pem

    key = key_file
    if key is None:
        log = path / LOG_NAME if path is not None and path.is_dir() else path
        log = log or next((c for c, _ in candidates() if c.parent.is_dir()), candidates()[0][0])
        key = default_key_file(log)
        if not key.exists() and key.with_suffix(".pub").exists():
            key = key.with_suffix(".pub")
    if not key.exists():
        typer.echo(f"{key}: no evidence key (it is generated when the operator or the API first appends)", err=True)
        return 2
    keys = load_public_key(key)
    for kid, pub_key in keys.keys.items():
        typer.echo(f"# evidence signing key {kid} (Ed25519), from {key}")
        typer.echo(public_pem(pub_key), nl=False)
    return 0


Paths = Annotated[list[Path] | None, typer.Option("--public-key", help="Trust this public key (PEM; repeatable). "
                                                  "Default: the key file next to the log.")]
Heads = Annotated[list[str] | None, typer.Option(help="A head hash recorded elsewhere that the log must reach.")]
AnchorFiles = Annotated[list[Path] | None, typer.Option(
    "--anchor", help="An earlier export's bundle.json or assessment-results.json, or an evidence entry (S3 copy).")]
Kubeconfig = Annotated[Path | None, typer.Option(help="Read the CompliancePolicies' status.evidence.headHash.")]
LogPath = Annotated[Path | None, typer.Option("--path", help="The evidence log (default: where `finplane dev` writes).")]


@app.command("verify")
def verify_command(path: LogPath = None, public_key_: Paths = None, expect_head: Heads = None,
                   anchor: AnchorFiles = None, kubeconfig: Kubeconfig = None,
                   s3_bucket: Annotated[str | None, typer.Option(help="Anchor on the newest entry shipped here.")] = None,
                   s3_prefix: Annotated[str, typer.Option(help="Key prefix in --s3-bucket.")] = "finplane/evidence/",
                   ) -> None:
    """Verify the evidence log: chain, signatures, and the heads recorded outside it; name what is wrong."""
    raise typer.Exit(verify(path, public_keys=public_key_, expect_head=expect_head, anchor=anchor,
                            kubeconfig=kubeconfig, s3_bucket=s3_bucket, s3_prefix=s3_prefix))


@app.command("export")
def export_command(
    from_: Annotated[str, typer.Option("--from", help="Start (ISO 8601).")],
    to: Annotated[str, typer.Option(help="End (ISO 8601).")],
    team: Annotated[str | None, typer.Option(help="Only this team.")] = None,
    out: Annotated[Path, typer.Option(help="Folder for the bundle.")] = Path("evidence-export"),
    path: LogPath = None, public_key_: Paths = None, expect_head: Heads = None, anchor: AnchorFiles = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Export a point-in-time evidence bundle (JSON, CSV and OSCAL assessment-results, with the signed head)."""
    raise typer.Exit(export(path, from_, to, team, out, public_keys=public_key_, expect_head=expect_head,
                            anchor=anchor, kubeconfig=kubeconfig))


@app.command("public-key")
def public_key_command(
    key_file: Annotated[Path | None, typer.Option(help="The key file (default: the one next to the log).")] = None,
    path: LogPath = None,
) -> None:
    """Print the public key that evidence signatures verify with (PEM), for auditors."""
    raise typer.Exit(public_key(key_file, path))
