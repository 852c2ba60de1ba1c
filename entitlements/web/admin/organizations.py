"""/admin/organizations: applications, lifecycle moves, trust requests, tier grants."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request
from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Session

from ...admins.roles import Permission
from ...jobs.schemas import JobSchema
from ...jobs.service import Progress
from ...operations import organizations as operations
from ...operations import policy_changes
from ...organizations import service as organizations
from ...organizations.lifecycle import TRANSITIONS
from ...organizations.models import Organization, OrganizationStatus
from ...organizations.schemas import (
    DecisionSchema,
    LifecycleActionSchema,
    LowerTrustSchema,
    OrganizationChangeSchema,
    OrganizationCreateSchema,
    OrganizationSchema,
    TrustRequestCreateSchema,
    TrustRequestSchema,
    dump_organization,
)
from ...policy import service as policy
from ...policy.schemas import PolicyChangeRequestSchema, TierGrantSchema, TierRevokeSchema
from ..authority import actor
from ..services import services
from . import jobs
from .auth import admin_blueprint, database, json_body, requires, transaction
from .described import described
from .listing import PageQuerySchema, page_response, query_args
from .policy import answer

blueprint = admin_blueprint("admin_organizations", __name__)












class TrustRequestQuerySchema(PageQuerySchema):
    org_id = fields.String(load_default=None, data_key="organization_id",
                           validate=validate.Length(1, 64))
    state = fields.String(load_default=None,
                          validate=validate.OneOf(("pending", "approved", "rejected")))




class OrganizationQuerySchema(PageQuerySchema):
    status = fields.List(fields.String(validate=validate.OneOf(list(OrganizationStatus))),
                         load_default=list, metadata={
                             "description": "only these (repeat: ?status=applied"
                                            "&status=under_review, the review queue)"})


@blueprint.get("/organizations")
@described("List organizations (the review queue: ?status=applied&status=under_review)",
           query=OrganizationQuerySchema, answer=OrganizationSchema, page=True)
@requires(Permission.READ)
def list_organizations() -> Response:
    args = OrganizationQuerySchema().load({**request.args.to_dict(),
                                           "status": request.args.getlist("status")})
    with database().sessions() as session:
        listed = policy.allowlisted_tiers(session, actor().now)
        page = organizations.list_all(session, statuses=args.pop("status"), **args)
        return page_response(page, None, dump=lambda o: dump_organization(
            o, listed.get(o.id, [])))


@blueprint.post("/organizations")
@described("Apply, or onboard a verified organization",
           body=OrganizationCreateSchema, status=201, answer=OrganizationSchema)
@requires(Permission.ONBOARD)
def create_organization() -> tuple[Response, int]:
    body = json_body(OrganizationCreateSchema())
    with transaction() as session:
        make = organizations.create if body["onboard"] else organizations.apply
        org = make(session, actor(), body["name"], country=body["country"])
        data = _dump(session, org)
    return jsonify(data), 201


class OrganizationImportSchema(Schema):
    organizations = fields.List(fields.Nested(OrganizationCreateSchema), required=True,
                                validate=validate.Length(1, 10_000))


@blueprint.post("/organizations/import")
@described("Import many organizations at once, as a job (names already known are skipped)",
           body=OrganizationImportSchema, status=202, answer=JobSchema)
@requires(Permission.ONBOARD)
def import_organizations() -> tuple[Response, int]:
    """Many at once, as a job (names already known are skipped); ``entitlements orgs
    import`` takes a file of any size."""
    body = json_body(OrganizationImportSchema())
    who, db = actor(), services().db

    def work(progress: Progress) -> dict[str, Any]:
        return operations.import_organizations(db, who, body["organizations"], progress)

    return jobs.start("import", {"organizations": len(body["organizations"])}, work)


@blueprint.get("/organizations/<org_id>")
@described("Show an organization", answer=OrganizationSchema)
@requires(Permission.READ)
def get_organization(org_id: str) -> Response:
    with database().sessions() as session:
        return jsonify(_dump(session, organizations.get(session, org_id)))


@blueprint.get("/organizations/<org_id>/history")
@described("Lifecycle and trust history",
           query=PageQuerySchema, answer=OrganizationChangeSchema, page=True)
@requires(Permission.READ)
def organization_history(org_id: str) -> Response:
    page = query_args(PageQuerySchema())
    with database().sessions() as session:
        return page_response(organizations.history(session, org_id, **page),
                             OrganizationChangeSchema())


@blueprint.post("/organizations/<org_id>/<any(" + ", ".join(TRANSITIONS) + "):action>")
@described("Lifecycle move: review, verify, suspend, reinstate or revoke",
           body=LifecycleActionSchema, answer=OrganizationSchema)
@requires(Permission.ONBOARD)
def move_organization(org_id: str, action: str) -> Response:
    body = json_body(LifecycleActionSchema())
    with transaction() as session:
        org = operations.move(session, actor(), org_id, action, body["reason"],
                                 body["evidence"], required=_required("verified"))
        return jsonify(_dump(session, org))


@blueprint.post("/organizations/<org_id>/trust-requests")
@described("Request a higher trust level (a second admin approves)",
           body=TrustRequestCreateSchema, status=201, answer=TrustRequestSchema)
@requires(Permission.ONBOARD)
def request_trust(org_id: str) -> tuple[Response, int]:
    body = json_body(TrustRequestCreateSchema())
    with transaction() as session:
        request = organizations.request_trust(session, actor(), org_id, body["level"],
                                              body["reason"])
        return jsonify(TrustRequestSchema().dump(request)), 201


@blueprint.post("/organizations/<org_id>/lower-trust")
@described("Lower the trust level (one admin; the organization's live tokens are revoked)",
           body=LowerTrustSchema, answer=OrganizationSchema)
@requires(Permission.ONBOARD)
def lower_trust(org_id: str) -> Response:
    """One admin may lower trust; the organization's live tokens are revoked."""
    body = json_body(LowerTrustSchema())
    with transaction() as session:
        org = operations.lower_trust(session, actor(), org_id, body["level"],
                                     body["reason"])
        return jsonify(_dump(session, org))


@blueprint.get("/trust-requests")
@described("List trust requests",
           query=TrustRequestQuerySchema, answer=TrustRequestSchema, page=True)
@requires(Permission.READ)
def list_trust_requests() -> Response:
    args = query_args(TrustRequestQuerySchema())
    with database().sessions() as session:
        return page_response(organizations.trust_requests(session, **args),
                             TrustRequestSchema())


@blueprint.post("/trust-requests/<request_id>/approve")
@described("Approve another admin's trust request (two-person rule)",
           body=DecisionSchema, answer=OrganizationSchema)
@requires(Permission.APPROVE_TRUST)
def approve_trust(request_id: str) -> Response:
    body = json_body(DecisionSchema())
    with transaction() as session:
        org = organizations.approve_trust(session, actor(), request_id, body["reason"],
                                          body["evidence"],
                                          required=services().settings.evidence_required)
        return jsonify(_dump(session, org))


@blueprint.post("/trust-requests/<request_id>/reject")
@described("Reject a trust request (a trust approver), or withdraw one's own",
           body=DecisionSchema, answer=TrustRequestSchema)
@requires(Permission.APPROVE_TRUST, Permission.ONBOARD)
def reject_trust(request_id: str) -> Response:
    body = json_body(DecisionSchema())
    with transaction() as session:
        request = organizations.reject_trust(
            session, actor(), request_id, body["reason"],
            may_reject_others=g.principal.role_for(Permission.APPROVE_TRUST) is not None)
        return jsonify(TrustRequestSchema().dump(request))


@blueprint.post("/organizations/<org_id>/tiers")
@described("Put the organization on a tier's allowlist (a policy change: 202 when a second admin "
           "must approve it)",
           body=TierGrantSchema, status=201, answer=OrganizationSchema,
           accepted=PolicyChangeRequestSchema)
@requires(Permission.EDIT_POLICY)
def grant_tier(org_id: str) -> tuple[Response, int]:
    """Put the organization on the tier's allowlist (a policy change: 202 with the request
    when a second admin must approve it)."""
    body = json_body(TierGrantSchema())
    return _edit_allowlist(org_id, body["tier"], add=True, on_pending=body["on_pending"])


@blueprint.delete("/organizations/<org_id>/tiers/<tier>")
@described("Take a tier away (a policy change: 202 when a second admin must approve it)",
           query=TierRevokeSchema, answer=OrganizationSchema, accepted=PolicyChangeRequestSchema)
@requires(Permission.EDIT_POLICY)
def revoke_tier(org_id: str, tier: str) -> tuple[Response, int]:
    """``?on_pending=keep|cancel`` when activations are scheduled (see the policy API)."""
    query = TierRevokeSchema().load(request.args.to_dict())
    return _edit_allowlist(org_id, tier, add=False, on_pending=query["on_pending"], status=200)


def _edit_allowlist(org_id: str, tier: str, *, add: bool, on_pending: str | None,
                    status: int = 201) -> tuple[Response, int]:
    params, reason = policy_changes.allowlist_edit(org_id, tier, add=add, on_pending=on_pending)
    with transaction() as session:
        outcome = policy_changes.change(session, actor(), services().approval_rule,
                                        "allowlist", params, reason)
        return answer(session, outcome,
                      lambda _: _dump(session, organizations.get(session, org_id)),
                      status=status)


def _required(level: str) -> frozenset[str]:
    return services().settings.evidence_required(level)


def _dump(session: Session, org: Organization) -> dict:
    session.flush()
    return dump_organization(org, policy.tiers_listing(session, actor().now, org.id))
