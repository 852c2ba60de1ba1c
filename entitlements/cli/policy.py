"""`entitlements policy ...`: versions, edits (whole documents, merge patches, or one tier,
model or window at a time), activation, scheduling, rollback, dry runs, re-imposition and
explain. Every edit names the version it builds on (the latest, unless --base says)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from ..base.errors import InvalidInput
from ..base.pages import every
from ..operations import break_glass, policy_changes
from ..policy import approvals, impact, service
from ..policy.document import ORGANIZATION_SUBJECTS, TIER_STATUSES
from ..policy.explain import SubjectRef, explain
from ..policy.schemas import (
    ActivationSchema,
    BreakGlassSchema,
    PolicyChangeRequestSchema,
    PolicyVersionSchema,
    PolicyVersionSummarySchema,
    shown_glass,
    shown_request,
)
from .context import (
    CliContext,
    IsoTime,
    emit,
    emit_waiting,
    json_option,
    on_pending_option,
    pass_cli,
)

ISO = IsoTime()
TRUST = click.Choice(["unverified", "verified", "trusted", "government_partner"])


@click.group("policy")
def command() -> None:
    """Entitlement policy: versions, tier rules, the model catalog, activation, explain."""


@command.command("show")
@json_option
@pass_cli
def show_command(cli: CliContext, as_json: bool) -> None:
    """The active and latest versions, and the activation history."""
    now = cli.clock.now()
    with cli.transaction() as session:
        data = {"active_version": service.active_version(session, now),
                "latest_version": service.latest(session).version,
                "activations": ActivationSchema(many=True).dump(service.activations(session))}
    pending = [a for a in data["activations"] if a["activate_at"] > now.isoformat()
               and not a["cancelled_at"]]
    emit(as_json, data, f"active version {data['active_version']}, latest "
                        f"{data['latest_version']}, {len(pending)} scheduled")


@command.command("versions")
@json_option
@pass_cli
def versions_command(cli: CliContext, as_json: bool) -> None:
    """Every version, oldest first."""
    with cli.transaction() as session:
        data = PolicyVersionSummarySchema(many=True).dump(every(service.list_versions, session))
    emit(as_json, data, "\n".join(f"{v['version']:>4}  {v['created_at']}  {v['author']:20} "
                                  f"{v['reason']}" for v in data))


@command.command("version")
@click.argument("number", type=int)
@json_option
@pass_cli
def version_command(cli: CliContext, number: int, as_json: bool) -> None:
    """One version: its document and its diff from the one before."""
    with cli.transaction() as session:
        data = PolicyVersionSchema().dump(service.get_version(session, number))
    emit(as_json, data, json.dumps(data["document"], indent=2, sort_keys=True))


def _edit_options(func: Any) -> Any:
    for option in reversed([
        click.option("--reason", required=True),
        click.option("--base", type=int, default=None,
                     help="The version this edit builds on (default: the latest, or the "
                          "active one with --on-active)."),
        click.option("--on-active", is_flag=True,
                     help="Build on the active version, leaving out versions scheduled for "
                          "later (an urgent change)."),
        click.option("--activate-now", is_flag=True),
        click.option("--activate-at", type=ISO, default=None),
        on_pending_option, json_option, pass_cli,
    ]):
        func = option(func)
    return func


@command.command("apply")
@click.option("--document", "document_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--patch", "patch_file", type=click.Path(dir_okay=False, path_type=Path))
@_edit_options
def apply_command(cli: CliContext, document_file: Path | None, patch_file: Path | None,
                  **edit: Any) -> None:
    """A new version from a whole document or an RFC 7396 merge patch (JSON files)."""
    document = _read_json(document_file) if document_file else None
    patch = _read_json(patch_file) if patch_file else None
    _new_version(cli, document=document, patch=patch, **edit)


@command.command("set-tier")
@click.argument("tier")
@click.option("--status", type=click.Choice(TIER_STATUSES))
@click.option("--trust", "trust_levels", multiple=True, type=TRUST)
@click.option("--citizenship", "nationalities", multiple=True,
              help="Require a verified nationality (repeatable); persons need one of them.")
@click.option("--min-level", type=click.Choice(["low", "substantial", "high"]))
@click.option("--organization-subjects", type=click.Choice(ORGANIZATION_SUBJECTS))
@click.option("--no-citizenship", is_flag=True, help="Drop the citizenship requirement.")
@click.option("--allow", "allowlist", multiple=True, help="The allowlist (replaces it).")
@click.option("--max-lifetime", type=int)
@click.option("--sender-constraint", type=click.Choice(["dpop", "none"]),
              help="dpop: grant the tier only in DPoP-bound tokens; none: in any token.")
@click.option("--description")
@_edit_options
def set_tier_command(cli: CliContext, tier: str, status: str | None,
                     trust_levels: tuple[str, ...], nationalities: tuple[str, ...],
                     min_level: str | None, organization_subjects: str | None,
                     no_citizenship: bool, allowlist: tuple[str, ...],
                     max_lifetime: int | None, sender_constraint: str | None,
                     description: str | None, **edit: Any) -> None:
    """Create or change one tier's rule."""
    rule: dict[str, Any] = {"status": status, "description": description,
                            "trust_levels": list(trust_levels) or None,
                            "allowlist": list(allowlist) or None,
                            "max_token_lifetime": max_lifetime}
    citizenship_options = bool(nationalities or min_level or organization_subjects)
    if no_citizenship and citizenship_options:
        raise InvalidInput("--no-citizenship drops the requirement: give no citizenship "
                           "options with it")
    if nationalities:
        rule["citizenship"] = {"nationalities": list(nationalities),
                               "min_level": min_level or "substantial",
                               "organization_subjects": organization_subjects or "attestation"}
    elif citizenship_options:  # change the tier's existing requirement (a merge patch)
        rule["citizenship"] = {"min_level": min_level,
                               "organization_subjects": organization_subjects}
    patch_rule = {k: v for k, v in rule.items() if v is not None}
    if "citizenship" in patch_rule:
        patch_rule["citizenship"] = {k: v for k, v in patch_rule["citizenship"].items()
                                     if v is not None}
    if sender_constraint is not None:  # "none" removes the rule (RFC 7396: null deletes)
        patch_rule["sender_constraint"] = None if sender_constraint == "none" else "dpop"
    if no_citizenship:  # on an existing tier only: dropping a rule creates nothing
        patch_rule["citizenship"] = None
        _new_version(cli, mutate=lambda doc: _replace_tier(doc, tier, patch_rule), **edit)
    else:
        _new_version(cli, patch={"tiers": {tier: patch_rule}}, **edit)


@command.command("add-window")
@click.argument("tier")
@click.option("--starts", type=ISO, required=True)
@click.option("--ends", type=ISO, default=None)
@click.option("--trust", "trust_levels", multiple=True, type=TRUST)
@_edit_options
def add_window_command(cli: CliContext, tier: str, starts: datetime, ends: datetime | None,
                       trust_levels: tuple[str, ...], **edit: Any) -> None:
    """Add an availability window to a tier (for these trust levels, or everyone)."""
    window = {"starts_at": starts.isoformat(), "ends_at": ends.isoformat() if ends else None,
              "trust_levels": list(trust_levels) or None}

    def mutate(doc: dict[str, Any]) -> dict[str, Any]:
        if tier not in doc["tiers"]:
            raise InvalidInput(f"no tier named {tier!r}")
        doc["tiers"][tier]["windows"] = [*doc["tiers"][tier]["windows"], window]
        return doc

    _new_version(cli, mutate=mutate, **edit)


@command.command("set-model")
@click.argument("model")
@click.option("--tier", required=True)
@click.option("--fallback", default=None)
@click.option("--released-at", type=ISO, default=None)
@_edit_options
def set_model_command(cli: CliContext, model: str, tier: str, fallback: str | None,
                      released_at: datetime | None, **edit: Any) -> None:
    """Add or change a model in the catalog."""
    entry = {"tier": tier, "fallback": fallback,
             "released_at": released_at.isoformat() if released_at else None}
    _new_version(cli, patch={"models": {model: entry}}, **edit)  # nulls: none, removed


@command.command("remove-model")
@click.argument("model")
@_edit_options
def remove_model_command(cli: CliContext, model: str, **edit: Any) -> None:
    """Remove a model from the catalog (refused while another falls back to it)."""
    _new_version(cli, patch={"models": {model: None}}, **edit)


@command.command("activate")
@click.argument("number", type=int)
@click.option("--reason", required=True)
@click.option("--at", type=ISO, default=None, help="Schedule for this time.")
@click.option("--revoke-disallowed", is_flag=True,
              help="Re-impose: activate now and revoke every live token it no longer allows.")
@on_pending_option
@json_option
@pass_cli
def activate_command(cli: CliContext, number: int, reason: str, at: datetime | None,
                     revoke_disallowed: bool, on_pending: str | None, as_json: bool) -> None:
    """Activate a version now, or schedule it (a second admin approves, when the
    two-person rule covers it)."""
    action, params = policy_changes.activation(number, at=at, on_pending=on_pending,
                                               reimpose=revoke_disallowed)
    with cli.transaction() as session:
        outcome = policy_changes.change(session, cli.actor(), cli.approval_rule, action,
                                        params, reason)
    if outcome.pending:
        return emit_waiting(as_json, outcome.request)
    data = outcome.result or {}
    if revoke_disallowed:
        human = (f"version {number} re-imposed; {data['revoked']} of "
                 f"{data.get('checked', 0)} live tokens revoked")
    else:
        data = data["activation"]
        human = f"version {number} active from {data['activate_at']}"
    emit(as_json, data, human)


@command.command("rollback")
@click.argument("number", type=int)
@click.option("--reason", required=True)
@on_pending_option
@json_option
@pass_cli
def rollback_command(cli: CliContext, number: int, reason: str, on_pending: str | None,
                     as_json: bool) -> None:
    """Reactivate an earlier version's policy now (as a new version)."""
    with cli.transaction() as session:
        outcome = policy_changes.change(session, cli.actor(), cli.approval_rule, "rollback",
                                        {"version": number, "on_pending": on_pending}, reason)
        if outcome.pending:
            return emit_waiting(as_json, outcome.request)
        data = PolicyVersionSummarySchema().dump(
            service.get_version(session, outcome.result["version"]))
    emit(as_json, data, f"version {data['version']} (a copy of {number}) is active")


@command.command("changes")
@click.option("--state", type=click.Choice(approvals.STATES), default=None,
              help="Only these (default: all, newest first).")
@json_option
@pass_cli
def changes_command(cli: CliContext, state: str | None, as_json: bool) -> None:
    """Policy changes asked for under the two-person rule."""
    now = cli.clock.now()
    with cli.transaction() as session:
        rows = every(approvals.list_requests, session, now=now,
                     states=[state] if state else [])
        data = PolicyChangeRequestSchema(many=True).dump([shown_request(r, now) for r in rows])
    emit(as_json, data, "\n".join(
        f"{r['id']}  {r['state']:9} {r['action']:9} {r['requested_by']:20} {r['reason']}"
        for r in data) or "no policy change requests")


@command.command("approve")
@click.argument("request_id")
@click.option("--reason", required=True)
@json_option
@pass_cli
def approve_command(cli: CliContext, request_id: str, reason: str, as_json: bool) -> None:
    """Approve another admin's policy change (--actor names you); it is applied now."""
    with cli.transaction() as session:
        outcome = policy_changes.approve(session, cli.actor(), request_id, reason)
        data = PolicyChangeRequestSchema().dump(outcome.request)
    emit(as_json, data, f"{data['action']} approved and applied ({request_id})")


@command.command("reject")
@click.argument("request_id")
@click.option("--reason", required=True)
@json_option
@pass_cli
def reject_command(cli: CliContext, request_id: str, reason: str, as_json: bool) -> None:
    """Reject another admin's policy change, or withdraw your own."""
    with cli.transaction() as session:
        data = PolicyChangeRequestSchema().dump(
            policy_changes.reject(session, cli.actor(), request_id, reason).request)
    emit(as_json, data, f"request {request_id} {data['state']}")


@command.command("break-glass")
@click.option("--tier", "tiers", multiple=True, required=True, help="A tier to suspend now.")
@click.option("--reason", required=True)
@on_pending_option
@json_option
@pass_cli
def break_glass_command(cli: CliContext, tiers: tuple[str, ...], reason: str,
                        on_pending: str | None, as_json: bool) -> None:
    """Emergency kill switch: suspend tiers now, by one admin; it lapses unless a second
    admin confirms it within ENTITLEMENTS_BREAK_GLASS_WINDOW."""
    settings = cli.settings
    with cli.transaction() as session:
        row = break_glass.break_glass(
            session, cli.actor(), tiers=list(tiers), reason=reason, on_pending=on_pending,
            window=timedelta(seconds=settings.break_glass_window), notify=settings.notify_url)
        data = _glass(row, cli.clock.now())
    emit(as_json, data, f"break-glass {data['id']}: {', '.join(data['tiers'])} suspended; "
                        f"lapses at {data['deadline']} unless another admin confirms: "
                        f"entitlements --actor <another admin> policy confirm {data['id']} "
                        "--reason ...")


@command.command("confirm")
@click.argument("glass_id")
@click.option("--reason", required=True)
@json_option
@pass_cli
def confirm_command(cli: CliContext, glass_id: str, reason: str, as_json: bool) -> None:
    """Confirm another admin's break-glass: it stays in force."""
    with cli.transaction() as session:
        data = _glass(break_glass.confirm(session, cli.actor(), glass_id, reason,
                                          notify=cli.settings.notify_url), cli.clock.now())
    emit(as_json, data, f"break-glass {glass_id} confirmed")


@command.command("revert")
@click.argument("glass_id")
@click.option("--reason", required=True)
@json_option
@pass_cli
def revert_command(cli: CliContext, glass_id: str, reason: str, as_json: bool) -> None:
    """Undo a break-glass now: the policy before it is active again."""
    with cli.transaction() as session:
        data = _glass(break_glass.revert(session, cli.actor(), glass_id, reason,
                                         notify=cli.settings.notify_url), cli.clock.now())
    emit(as_json, data, f"break-glass {glass_id} reverted")


@command.command("cancel")
@click.argument("activation_id", type=int)
@click.option("--reason", required=True)
@json_option
@pass_cli
def cancel_command(cli: CliContext, activation_id: int, reason: str, as_json: bool) -> None:
    """Cancel a scheduled activation."""
    with cli.transaction() as session:
        data = ActivationSchema().dump(service.cancel(session, cli.actor(), activation_id,
                                                      reason))
    emit(as_json, data, f"activation {activation_id} cancelled")


@command.command("dry-run")
@click.argument("number", type=int)
@click.option("--at", type=ISO, default=None)
@json_option
@pass_cli
def dry_run_command(cli: CliContext, number: int, at: datetime | None, as_json: bool) -> None:
    """Who would gain or lose which tiers if the version became active."""
    with cli.transaction() as session:
        data = impact.dry_run(session, number, at or cli.clock.now())
    lines = [f"{kind[:-1]} {c['id']}: +{','.join(c['gains']) or '-'} "
             f"-{','.join(c['loses']) or '-'}"
             for kind in ("organizations", "persons") for c in data[kind]]
    emit(as_json, data, "\n".join(lines) or "no change for anyone")


@command.command("explain")
@click.option("--org", "organization_id")
@click.option("--client", "client_id")
@click.option("--person", "person_id")
@click.option("--model")
@click.option("--tier", "tiers", multiple=True)
@click.option("--at", type=ISO, default=None)
@click.option("--dpop", "dpop_bound", is_flag=True,
              help="Decide for a DPoP-bound token (default: a bearer token).")
@json_option
@pass_cli
def explain_command(cli: CliContext, organization_id: str | None, client_id: str | None,
                    person_id: str | None, model: str | None, tiers: tuple[str, ...],
                    at: datetime | None, dpop_bound: bool, as_json: bool) -> None:
    """May this organization, client or person use the model (or tiers) now, with a bearer
    or a DPoP-bound token, and why."""
    when = at or cli.clock.now()
    with cli.transaction() as session:
        policy = service.active_policy(session, when)
        data = explain(session, policy, SubjectRef(organization_id, client_id, person_id),
                       when, model=model, tiers=list(tiers) or None, dpop_bound=dpop_bound)
    human = [f"granted: {', '.join(data['granted']) or '-'}"]
    human += [f"denied {t}: {d['reason']}" for t, d in data["denied"].items()]
    if "model" in data:
        m = data["model"]
        human.append(f"model {m['requested']}: {m['outcome']}"
                     + (f" -> {m['route_to']}" if m["outcome"] == "fallback" else "")
                     + (f" ({m['reason']})" if m.get("reason") else ""))
    emit(as_json, data, "\n".join(human))


def _new_version(cli: CliContext, *, reason: str, base: int | None, on_active: bool,
                 activate_now: bool, activate_at: datetime | None, on_pending: str | None,
                 as_json: bool,
                 document: dict[str, Any] | None = None, patch: dict[str, Any] | None = None,
                 mutate: Any = None) -> None:
    if activate_now and activate_at is not None:
        raise InvalidInput("give --activate-now or --activate-at, not both")
    who = cli.actor()
    with cli.transaction() as session:
        start = service.latest(session)
        active = service.active_version(session, who.now) if on_active else None
        if active is not None:
            start = service.get_version(session, active)
        if mutate is not None:
            document = mutate(json.loads(json.dumps(start.document)))
        row, outcome = policy_changes.new_version(
            session, who, cli.approval_rule, base_version=base or start.version, reason=reason,
            document=document, patch=patch, on_active=on_active, activate_now=activate_now,
            activate_at=activate_at, on_pending=on_pending)
        data = PolicyVersionSchema().dump(row)
        if outcome is not None and outcome.pending:
            data["approval"] = PolicyChangeRequestSchema().dump(outcome.request)
    state = "active now" if activate_now else (
        f"active from {activate_at.isoformat()}" if activate_at else "not active")
    if "approval" in data:
        state = (f"its activation waits for a second admin: policy approve "
                 f"{data['approval']['id']}")
    emit(as_json, data, f"version {data['version']} created ({state}); "
                        f"{len(data['diff'])} change(s)")


def _replace_tier(doc: dict[str, Any], tier: str, rule: dict[str, Any]) -> dict[str, Any]:
    if tier not in doc["tiers"]:
        raise InvalidInput(f"no tier named {tier!r}")
    doc["tiers"][tier].update(rule)
    return doc


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}") from None
    except ValueError:
        raise InvalidInput(f"{path} is not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{path} must hold a JSON object")
    return value



def _glass(row: Any, now: datetime) -> dict[str, Any]:
    return BreakGlassSchema().dump(shown_glass(row, now))
