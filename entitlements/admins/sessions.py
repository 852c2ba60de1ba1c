"""Console sign-in: single-use links (the embedded default's way in) and server-side
sessions. Cookies and links are random; only their SHA-256 digests are stored. A session
is new at every sign-in (the old one, if any, ends), and ends when idle too long, at its
absolute expiry, at sign-out, or when its admin is disabled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..audit.targets import Target
from ..base.actor import Actor
from ..base.db import fetch, prune_expired
from ..base.errors import Conflict, Forbidden
from ..base.secrets import digest, generate_secret
from . import service as admins
from .models import Admin, ConsoleFormUse, ConsoleSession, LoginLink

#: How long a sign-in link works, once.
LINK_LIFETIME = timedelta(minutes=5)
#: How often a session's last use is written (a request within this needs no write).
TOUCH_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class Lifetimes:
    idle: timedelta
    absolute: timedelta


def issue_login_link(session: Session, actor: Actor, name: str, *, enabled: bool) -> str:
    """A single-use token for a link that signs admin ``name`` in, for ``LINK_LIFETIME``;
    Conflict when links are off here (``enabled``: ``Settings.login_links_enabled``)."""
    if not enabled:
        raise Conflict("sign-in links are off here (ENTITLEMENTS_CONSOLE_LOGIN_LINKS); sign "
                       "in to the console with single sign-on", code="login_links_off")
    admin = admins.get(session, name)
    if admin.status != "active":
        raise Conflict(f"admin {name} is disabled", code="admin_disabled")
    token = generate_secret()
    session.add(LoginLink(token_hash=digest(token), admin=name, created_by=actor.name,
                          created_at=actor.now, expires_at=actor.now + LINK_LIFETIME))
    prune_expired(session, LoginLink, actor.now)
    audit.record(session, actor, "admin.login_link_issued", target=Target("admin", name),
                 details={"expires_at": (actor.now + LINK_LIFETIME).isoformat()})
    return token


def link_url(issuer: str, token: str) -> str:
    """The console address a sign-in link opens (the token in the query: the access log
    never records queries, and pages send no Referer)."""
    return f"{issuer}/console/login/link?token={token}"


def link_usable(session: Session, token: str, now: datetime) -> bool:
    """Whether a sign-in link would still sign someone in (nothing is spent)."""
    link = session.get(LoginLink, digest(token or ""))
    return link is not None and link.used_at is None and link.expires_at > now


def redeem_login_link(session: Session, token: str, now: datetime) -> Admin:
    """The admin a link signs in, once: a used, expired or unknown link is Forbidden."""
    link = fetch(session, LoginLink, digest(token or ""), lock=True)
    if link is None or link.used_at is not None or link.expires_at <= now:
        raise Forbidden("this sign-in link is used, expired or unknown; ask for a new one",
                        code="login_link_refused")
    link.used_at = now
    admin = admins.get(session, link.admin)
    if admin.status != "active":
        raise Forbidden(f"admin {admin.name} is disabled", code="admin_disabled")
    audit.record(session, Actor(f"admin:{admin.name}", now), "console.link_used",
                 target=Target("admin", admin.name), details={"made_by": link.created_by})
    return admin


def open_session(session: Session, admin: Admin, method: str, now: datetime,
                 lifetimes: Lifetimes, *, replacing: str | None = None) -> str:
    """A new session for ``admin`` (the one ``replacing`` names ends): its cookie value."""
    if replacing:
        _end(session, replacing, now)
    cookie = generate_secret()
    session.add(ConsoleSession(id_hash=digest(cookie), admin=admin.name, method=method,
                               created_at=now, last_seen_at=now,
                               expires_at=now + lifetimes.absolute))
    prune_expired(session, ConsoleSession, now)
    audit.record(session, Actor(f"admin:{admin.name}", now), "console.signed_in",
                 target=Target("admin", admin.name), details={"method": method})
    return cookie


def current(session: Session, cookie: str | None, now: datetime, lifetimes: Lifetimes
            ) -> tuple[ConsoleSession, Admin] | None:
    """The live session a cookie names and its active admin (read only: ``touch`` records
    its use, when ``stale``)."""
    if not cookie or len(cookie) > 100:
        return None
    found = session.get(ConsoleSession, digest(cookie))
    if (found is None or found.ended_at is not None or found.expires_at <= now
            or now - found.last_seen_at > lifetimes.idle):
        return None
    admin = session.get(Admin, found.admin)
    if admin is None or admin.status != "active":
        return None
    return found, admin


def stale(found: ConsoleSession, now: datetime) -> bool:
    """Whether the session's last use is old enough to be written again (a request within
    ``TOUCH_EVERY`` of the last write needs none)."""
    return now - found.last_seen_at >= TOUCH_EVERY


def touch(session: Session, cookie: str, now: datetime) -> None:
    """Record the session's use now (never moving it back)."""
    session.execute(sql_update(ConsoleSession).where(
        ConsoleSession.id_hash == digest(cookie), ConsoleSession.last_seen_at < now)
        .values(last_seen_at=now))


def spend_form(session: Session, cookie: str, nonce: str, now: datetime) -> None:
    """Record a form's one-time nonce as sent in this session: Conflict
    (``form_resubmitted``) when it was sent already."""
    session.add(ConsoleFormUse(session_hash=digest(cookie), nonce=nonce, used_at=now))
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("This form was sent already (a second click, or sent again after "
                       "going back); its work was done once. Reload the page to see where "
                       "things stand.", code="form_resubmitted") from None


def release_form(session: Session, cookie: str, nonce: str) -> None:
    """Forget a form sent but refused, so it can be corrected and sent again."""
    session.execute(delete(ConsoleFormUse).where(ConsoleFormUse.session_hash == digest(cookie),
                                                 ConsoleFormUse.nonce == nonce))


def sign_out(session: Session, cookie: str | None, now: datetime) -> None:
    found = _end(session, cookie, now)
    if found is not None:
        audit.record(session, Actor(f"admin:{found.admin}", now), "console.signed_out",
                     target=Target("admin", found.admin))


def _end(session: Session, cookie: str | None, now: datetime) -> ConsoleSession | None:
    found = session.get(ConsoleSession, digest(cookie)) if cookie else None
    if found is None or found.ended_at is not None:
        return None
    found.ended_at = now
    return found
