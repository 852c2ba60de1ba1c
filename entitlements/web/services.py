"""The long-lived collaborators the views use, built once by the application factory and
found through ``services()``: one typed object instead of string keys and back doors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app

from ..admins.sso import ConsoleSso
from ..attestations.service import Verifiers
from ..audit.refusals import RefusalLog
from ..base.clock import Clock
from ..base.db import Database
from ..base.remote_jwks import RemoteJwks
from ..base.sealing import Sealer
from ..base.settings import Settings
from ..jobs.runner import JobRunner
from ..oauth.client_record import ClientDirectory
from ..oauth.server import EntitlementsServer
from ..operations.notices import NoticeSender
from ..operations.signin import Context as SignInContext
from ..organizations.domains import TxtResolver
from ..organizations.lei import GleifRegistry
from ..policy.approvals import ApprovalRule
from ..policy.snapshot import PolicySnapshotPublisher
from ..policy.store import PolicyStore
from ..reports.anchors import Anchor
from ..reports.service import Writer
from ..resources.directory import ResourceDirectory
from ..signing.keyring import KeyRingCache
from ..signing.keystore import KeyStore
from ..tokens.ledger import TokenLedger
from ..tokens.status_lists import StatusListPublisher

EXTENSION = "entitlements"


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock
    keys: KeyRingCache
    key_store: KeyStore
    oauth: EntitlementsServer
    clients: ClientDirectory
    resources: ResourceDirectory
    policies: PolicyStore
    ledger: TokenLedger
    refusals: RefusalLog
    status_lists: StatusListPublisher
    snapshot: PolicySnapshotPublisher
    verifiers: Verifiers
    dns: TxtResolver
    lei_registry: GleifRegistry
    #: Seals secrets we hand to others later (upstream providers' client secrets).
    sealer: Sealer
    remote_jwks: RemoteJwks
    #: The policy actions that wait for a second admin (ENTITLEMENTS_TWO_PERSON_POLICY).
    approval_rule: ApprovalRule
    notices: NoticeSender
    jobs: JobRunner
    report_writer: Writer
    #: Where audit checkpoints are copied outside the database.
    anchors: list[Anchor]
    #: The console's single sign-on, when one is set up.
    console_sso: ConsoleSso | None = None
    #: When this process last served the policy snapshot and a status list to a gateway.
    polls: dict[str, datetime] = field(default_factory=dict)

    def changed(self) -> None:
        """An admin change committed: this process's caches see it at once (others within
        their cache periods), and the notices it wrote are sent."""
        self.clients.invalidate()
        self.resources.invalidate()
        self.policies.invalidate()
        self.status_lists.invalidate()
        self.notices.kick()

    def sign_in_context(self) -> SignInContext:
        """What the sign-in steps need, with the policy in force read now: before the
        step's transaction, since on SQLite a second session would wait for it."""
        return SignInContext(self.settings, self.sealer, self.remote_jwks,
                             self.policies.active(self.clock.now()), self.verifiers)

    def close(self) -> None:
        """Close the audit writers' connections (tests, and a graceful shutdown)."""
        self.ledger.close()
        self.refusals.close()
        self.jobs.close()
        self.notices.close()


def services() -> Services:
    return current_app.extensions[EXTENSION]
