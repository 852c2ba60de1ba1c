"""Checking a report offline: its manifest's signature against a JWKS the checker trusts,
the file's size and SHA-256, every event's own hash, the links between consecutive events of
each stream, the interval, and the counts the manifest states. Needs no database and no
network (the JWKS is given)."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jwt
import orjson
from marshmallow import INCLUDE, Schema, fields, validate

from ..audit.service import hash_fields
from ..signing.documents import MANIFEST_TYP, DocumentRefused, jwks_keys, read_document
from .export import FORMAT, extend_streams

#: Problems listed in full; past this many, only counted.
SHOWN = 20
#: What every line must hold, and of which type (the rest is hashed as it is).
EVENT_TYPES: dict[str, type | tuple[type, ...]] = {
    "stream": str, "seq": int, "at": str, "actor": str, "action": str, "outcome": str,
    "target": (str, type(None)), "reason": (str, type(None)), "details": dict,
    "prev_hash": str, "hash": str}


class _FileSchema(Schema):
    name = fields.String(required=True)
    bytes = fields.Integer(required=True, strict=True)
    sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))


class ManifestSchema(Schema):
    """What a manifest of this format states (checked before anything is read by it)."""

    class Meta:
        unknown = INCLUDE

    report = fields.String(required=True)
    starts_at = fields.AwareDateTime(required=True, data_key="from")
    ends_at = fields.AwareDateTime(required=True, data_key="to")
    events = fields.Integer(required=True, strict=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(strict=True),
                         required=True)
    streams = fields.Dict(keys=fields.String(), values=fields.Dict(), required=True)
    file = fields.Nested(_FileSchema, required=True)


@dataclass
class Verification:
    manifest: dict[str, Any] = field(default_factory=dict)
    events: int = 0
    problems: list[str] = field(default_factory=list)
    more: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, text: str) -> None:
        if len(self.problems) < SHOWN:
            self.problems.append(text)
        else:
            self.more += 1


def read_manifest(jws: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """The manifest's claims once its signature verifies with a key of ``jwks`` named by
    its ``kid``, signed before that key was revoked if it says when; ValueError saying why
    not."""
    try:
        claims = read_document(jws, MANIFEST_TYP, jwks_keys(jwks))
    except DocumentRefused as refused:
        raise ValueError(_refusal(refused)) from None
    except (jwt.PyJWKSetError, jwt.InvalidKeyError):
        raise ValueError("the JWKS given holds no usable key") from None
    kid = jwt.get_unverified_header(jws).get("kid")
    revoked = next((k.get("revoked_at") for k in jwks.get("keys", [])
                    if isinstance(k, dict) and k.get("kid") == kid), None)
    if isinstance(revoked, int | float) and not (
            isinstance(claims.get("iat"), int | float) and claims["iat"] < revoked):
        raise ValueError("the manifest was signed after its key was revoked")
    return claims


def _refusal(refused: DocumentRefused) -> str:
    if refused.reason == "malformed":
        return "the manifest is not a JWS"
    if refused.reason == "typ":
        return f"the manifest's typ is {refused.cause!r}, not {MANIFEST_TYP}"
    if refused.reason == "key":
        kid = refused.cause.args[0] if refused.cause.args else None
        return f"the JWKS has no key {kid!r} that signed the manifest"
    if refused.reason == "algorithm":
        return f"the manifest's algorithm {refused.cause!r} is not allowed"
    return f"the manifest's signature does not verify ({refused.cause})"


def verify_report(events_path: Path, manifest_jws: str, jwks: dict[str, Any]) -> Verification:
    result = Verification()
    try:
        result.manifest = manifest = read_manifest(manifest_jws, jwks)
    except ValueError as error:
        result.problem(str(error))
        return result
    if manifest.get("format") != FORMAT:
        result.problem(f"unknown report format {manifest.get('format')!r}")
        return result
    shape = ManifestSchema().validate(manifest)
    if shape:
        field, problems = sorted(shape.items())[0]
        result.problem(f"the manifest is malformed: {field}: {problems}")
        return result
    _check_file(events_path, manifest, result)
    if result.ok:
        _check_events(events_path, manifest, result)
    return result


def _check_file(path: Path, manifest: dict[str, Any], result: Verification) -> None:
    stated = manifest["file"]
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as data:
        while chunk := data.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    if size != stated["bytes"] or digest.hexdigest() != stated["sha256"]:
        result.problem(f"the file is not the one the manifest signed (size {size}, "
                       f"SHA-256 {digest.hexdigest()[:16]}...)")


def _check_events(path: Path, manifest: dict[str, Any], result: Verification) -> None:
    starts, ends = (datetime.fromisoformat(manifest["from"]),
                    datetime.fromisoformat(manifest["to"]))
    actions: Counter[str] = Counter()
    last: dict[str, tuple[int, str]] = {}
    streams: dict[str, dict[str, Any]] = {}
    with path.open("rb") as data:
        for number, line in enumerate(data, 1):
            event = _event(line)
            if event is None:
                result.problem(f"line {number}: not an event of this format")
                continue
            actions[event["action"]] += 1
            where = f"line {number} ({event['stream']} #{event['seq']})"
            if hash_fields(event) != event["hash"]:
                result.problem(f"{where}: the event's content does not match its hash")
            if not starts <= datetime.fromisoformat(event["at"]) < ends:
                result.problem(f"{where}: outside the report's interval")
            _check_link(last, event, where, result)
            extend_streams(streams, event)
    result.events = sum(actions.values())
    if dict(sorted(actions.items())) != manifest["counts"]:
        result.problem("the events per action differ from the manifest's counts")
    if streams != manifest["streams"]:
        result.problem("the streams' first and last events differ from the manifest's")


def _event(line: bytes) -> dict[str, Any] | None:
    """A line as an event, or None when it is not one (its fields and their types)."""
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(event, dict) or not set(EVENT_TYPES) <= set(event):
        return None
    if not all(isinstance(event[k], t) for k, t in EVENT_TYPES.items()):
        return None
    try:
        aware = datetime.fromisoformat(event["at"]).tzinfo is not None
    except ValueError:
        return None
    return event if aware else None


def _check_link(last: dict[str, tuple[int, str]], event: dict[str, Any], where: str,
                result: Verification) -> None:
    """Consecutive events of a stream link: each names the hash of the one before."""
    seen = last.get(event["stream"])
    if seen is not None and event["seq"] == seen[0] + 1 and event["prev_hash"] != seen[1]:
        result.problem(f"{where}: does not link to event #{seen[0]} of its stream")
    if seen is None or event["seq"] > seen[0]:
        last[event["stream"]] = (event["seq"], event["hash"])
