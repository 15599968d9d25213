"""Tamper-evidence subcommands of the `jejak` CLI, registered by entrypoints.cli.main.

    jejak keygen --name NAME --out FILE                  an Ed25519 key (FILE) and its public half (FILE.pub)
    jejak verify [--digest HEX@POSITION] [--writer-key PUB] [--checkpoint FILE --trusted-keys DIR
                 --min-signatures K] [--state FILE | --no-remember] [--json]
    jejak verify --proof FILE [--trusted-keys DIR --min-signatures K]   offline: no database
    jejak proof CASE [--version N] [--out FILE]
    jejak checkpoint [--since N] [--out FILE]
    jejak witness --key FILE --log URL-or-FILE --log-key PUB [--state FILE] [--out FILE]

The verifier remembers the largest head it verified for each store in ``verified-heads.json`` of the user's
state directory (outside the store: an administrator who cuts or rewrites the log cannot reach it) and fails
if the log no longer extends it. Exit codes: 0 fine, 1 tampering or a refused checkpoint, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from entrypoints.bootstrap import open_jejak
from entrypoints.cli.notices import state_dir
from workflow.errors import InvalidField


def register(subparsers) -> None:
    k = subparsers.add_parser("keygen", help="make an Ed25519 key: the log's (JEJAK_SIGNING_KEY_FILE) or a witness's",
                              description="Writes the secret key to FILE (mode 600) and the public key to FILE.pub, "
                                          "in the C2SP signed-note formats.")
    k.add_argument("--name", required=True, help="the key's name, e.g. bawaslu.go.id/jejak or ombudsman.go.id")
    k.add_argument("--out", required=True, metavar="FILE")
    k.set_defaults(func=cmd_keygen)

    v = subparsers.add_parser("verify", help="check the events against the signed hash chain, the rules, a "
                                             "checkpoint or a proof (tamper evidence)",
                              description="Recompute the chain over the stored events and report any edited, "
                                          "deleted, inserted, reordered, unsigned or rule-breaking event; prints "
                                          "the head digest HEX@POSITION to publish. With --proof: check an "
                                          "inclusion proof file without the database.")
    v.add_argument("--digest", metavar="HEX@POSITION", help="also check a previously published digest")
    v.add_argument("--writer-key", metavar="PUB", help="the writer's public key file (default: from "
                                                       "JEJAK_SIGNING_KEY[_FILE] when set)")
    v.add_argument("--checkpoint", metavar="FILE", help="also check that the log extends this signed checkpoint")
    v.add_argument("--proof", metavar="FILE", help="check this inclusion proof (written by `jejak proof`) offline")
    v.add_argument("--trusted-keys", metavar="DIR", help="a directory of *.pub keys the checkpoint must be signed by")
    v.add_argument("--min-signatures", type=int, default=1, metavar="K", help="with --trusted-keys (default 1)")
    v.add_argument("--state", metavar="FILE", help="where this verifier remembers the heads it verified "
                                                   "(default: verified-heads.json in the user's state directory)")
    v.add_argument("--no-remember", action="store_true", help="neither check nor update the remembered head")
    # SUPPRESS: keeps a --json given before the subcommand
    v.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="write JSON")
    v.set_defaults(func=cmd_verify)

    p = subparsers.add_parser("proof", help="an inclusion proof of one event against the newest checkpoint")
    p.add_argument("case")
    p.add_argument("--version", type=int, help="the event's version (default: the case's latest)")
    p.add_argument("--out", metavar="FILE", help="write it here (default: stdout)")
    p.set_defaults(func=cmd_proof)

    c = subparsers.add_parser("checkpoint", help="sign the Merkle log's head with the writer's key and publish it",
                              description="Prints the signed checkpoint (a C2SP signed note). With --since N: "
                                          "prints, as JSON, what a witness fetches (the newest checkpoint and the "
                                          "consistency proof from size N), without signing a new one.")
    c.add_argument("--since", type=int, metavar="N", help="the witness bundle from size N")
    c.add_argument("--out", metavar="FILE", help="write it here (default: stdout)")
    c.set_defaults(func=cmd_checkpoint)

    w = subparsers.add_parser("witness", help="co-sign the log's newest checkpoint after checking it extends "
                                              "the last one this witness signed")
    w.add_argument("--key", required=True, metavar="FILE", help="this witness's secret key (jejak keygen)")
    w.add_argument("--log", required=True, metavar="URL-or-FILE",
                   help="the server (its /api/v1/checkpoints) or a file written by `jejak checkpoint --since N`")
    w.add_argument("--log-key", required=True, metavar="PUB", help="the log's public key")
    w.add_argument("--state", metavar="FILE", help="the last checkpoint signed (default: the user's state dir)")
    w.add_argument("--out", metavar="FILE", help="the co-signed checkpoint (default: stdout)")
    w.set_defaults(func=cmd_witness)


def _write(text: str, out: str | None) -> None:
    if out in (None, "-"):
        sys.stdout.write(text)
        return
    try:
        with open(out, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:
        raise InvalidField("--out", f"cannot write {out!r} ({error.strerror})") from None


def _read_json(path: str, what: str):
    from workflow.signing import read_key_file

    try:
        return json.loads(read_key_file(path, what))
    except ValueError:
        raise InvalidField(what, f"{path!r} is not JSON") from None


def _public_key(path: str, what: str):
    from workflow.signing import VerifierKey, read_key_file

    return VerifierKey.parse(read_key_file(path, what), what)


def cmd_keygen(args) -> int:
    from workflow.signing import SignerKey

    key = SignerKey.generate(args.name)
    try:
        descriptor = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        raise InvalidField("--out", f"cannot create {args.out!r} ({error.strerror}); an existing key is never "
                           "overwritten") from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(f"{key}\n")
    _write(f"{key.verifier}\n", f"{args.out}.pub")
    print(key.verifier)
    return 0


def _trusted(args) -> list:
    from projections.checkpoints import read_trusted_keys

    if args.min_signatures < 1:
        raise InvalidField("--min-signatures", "must be 1 or more")
    return read_trusted_keys(args.trusted_keys) if args.trusted_keys else []


def cmd_verify(args) -> int:
    if args.proof:
        return _verify_proof(args)
    from projections.integrity import verify

    writer_keys = [_public_key(args.writer_key, "--writer-key")] if args.writer_key else None
    checkpoint = None
    if args.checkpoint:
        from projections.checkpoints import Checkpoint, accept
        from workflow.signing import read_key_file

        note = read_key_file(args.checkpoint, "--checkpoint") + "\n"
        keys = _trusted(args)
        checkpoint = accept(note, keys, args.min_signatures) if keys else Checkpoint.parse(note)
    state_file = args.state or str(state_dir() / "verified-heads.json")
    with open_jejak(getattr(args, "db", None)) as app:
        identity = _identity(app.store)
        from projections.checkpoints import load_state

        heads = {} if args.no_remember else load_state(state_file)
        report = verify(app, args.digest, writer_keys=writer_keys, remembered=heads.get(identity))
        from entrypoints import verification_log

        verification_log.record(app, report)  # the dashboard's integrity page shows the last run
        against = None
        if checkpoint is not None:
            from projections.merkle_log import LogTree
            from projections.proofs import store_against

            against = store_against(LogTree.build(app), checkpoint)
    data = report.as_dict()
    if checkpoint is not None:
        data["checkpoint"] = {"size": checkpoint.size, "ok": against is None, "problem": against}
    ok = report.ok and against is None
    if getattr(args, "json", False):
        print(json.dumps({**data, "ok": ok}, indent=2))
    else:
        print(report)
        if any(p.kind in ("log_shrunk", "log_diverged") for p in report.problems):
            print(f"  (if this is a new store at the same place, not the one verified before, remove its entry "
                  f"{identity!r} from {state_file})")
        if checkpoint is not None:
            print(f"checkpoint of size {checkpoint.size}: " + ("the log extends it" if against is None
                                                               else f"DOES NOT HOLD: {against}"))
    if ok and not args.no_remember and report.head:
        _remember(state_file, heads, identity, report.head)
    return 0 if ok else 1


def _verify_proof(args) -> int:
    from projections.proofs import check_proof

    result = check_proof(_read_json(args.proof, "--proof"), _trusted(args), args.min_signatures)
    print(result)
    return 0 if result.ok else 1


def _identity(store) -> str:
    return (f"postgresql://{store.host}:{store.port}/{store.database}" if store.is_postgres
            else os.path.realpath(store.database))


def _remember(path: str, heads: dict, identity: str, head: str) -> None:
    """Keep the newer head (the log only grows)."""
    old = heads.get(identity)
    if old and int(old.rsplit("@", 1)[1]) > int(head.rsplit("@", 1)[1]):
        return
    from projections.checkpoints import save_state

    heads[identity] = head
    save_state(path, heads)


def _signer(app):
    if app.signer is None:
        raise InvalidField("JEJAK_SIGNING_KEY", "not set: a checkpoint is signed with the log's key",
                           allowed="JEJAK_SIGNING_KEY or JEJAK_SIGNING_KEY_FILE (see `jejak keygen`)")
    return app.signer


def cmd_proof(args) -> int:
    from projections.checkpoints import Checkpoint, make_checkpoint
    from projections.merkle_log import LogTree
    from projections.proofs import make_proof
    from workflow.application import as_case_id

    case_id = as_case_id(args.case)
    with open_jejak(getattr(args, "db", None)) as app:
        tree = LogTree.build(app)
        index = tree.index_of(str(case_id), args.version)
        latest = app.recorder.checkpoints.last(app.recorder.datastore)
        if latest is None or latest["size"] < index:
            checkpoint = make_checkpoint(app, _signer(app), tree)
        else:
            checkpoint = Checkpoint.parse(latest["note"])
        proof = make_proof(app, str(case_id), args.version, checkpoint, tree)
    _write(json.dumps(proof, indent=2) + "\n", args.out)
    return 0


def cmd_checkpoint(args) -> int:
    from projections.checkpoints import log_bundle, make_checkpoint

    with open_jejak(getattr(args, "db", None)) as app:
        if args.since is not None:
            if args.since < 0:
                raise InvalidField("--since", "must be 0 or more")
            _write(json.dumps(log_bundle(app, args.since), indent=2) + "\n", args.out)
            return 0
        checkpoint = make_checkpoint(app, _signer(app))
    _write(checkpoint.note, args.out)
    return 0


def cmd_witness(args) -> int:
    from projections.checkpoints import load_state, witness
    from workflow.signing import SignerKey, read_key_file

    key = SignerKey.parse(read_key_file(args.key, "--key"), "--key")
    log_key = _public_key(args.log_key, "--log-key")
    state_file = args.state or str(state_dir() / "witness-state.json")
    prior = load_state(state_file).get(log_key.name, {}).get("size", 0)
    bundle = _fetch(args.log, prior)
    _write(witness(bundle, key, [log_key], state_file), args.out)
    return 0


def _fetch(log: str, since: int) -> dict:
    if not log.startswith(("http://", "https://")):
        return _read_json(log, "--log")
    import httpx

    try:
        response = httpx.get(log.rstrip("/") + "/api/v1/checkpoints", params={"since": since}, timeout=30)
        response.raise_for_status()
        return response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise InvalidField("--log", f"cannot fetch the checkpoints from {log!r} ({error})") from None
