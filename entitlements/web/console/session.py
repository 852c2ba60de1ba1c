"""The console session: a cookie whose digest names a server-side session
(``admins.sessions``), the admin's roles checked on every page as on the admin API, and a
form token on every form.

The cookie is HttpOnly, SameSite=Lax (a sign-in comes back from the provider across sites),
Secure unless the service runs on plain http on loopback, and scoped to /console. The form
token is derived from the cookie (which another site can neither read nor set); a POST
without it, or with another, is refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import Response, g, redirect, request, url_for

from ...admins import service as admins
from ...admins import sessions
from ...admins.roles import Permission
from ...base.errors import Forbidden
from ..authority import audit_refusal, authorize
from ..errors import Family, FamilyBlueprint
from ..html import form_token, form_token_matches, origin_of, set_page_cookie
from ..services import services
from .pages import NOTICE, PATH, console_page

F = TypeVar("F", bound=Callable[..., Any])
COOKIE = "ent_console"
#: The purpose console form tokens are derived for (``html.form_token``).
FORMS = "console"


class FormRefused(Forbidden):
    code = "csrf"
    title = "Form refused"


def lifetimes() -> sessions.Lifetimes:
    settings = services().settings
    return sessions.Lifetimes(idle=timedelta(seconds=settings.console_idle_timeout),
                              absolute=timedelta(seconds=settings.console_session_lifetime))


def console(*permissions: Permission, once: bool = True) -> Callable[[F], F]:
    """A console page that needs one of ``permissions``: not signed in (or idle too long)
    goes to the sign-in page; a POST must carry the page's form token and, unless ``once``
    is False (a form that only reads: a preview, an explanation), a nonce spent on it."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = _signed_in()
            if principal is None:
                return redirect(url_for("console_signin.login",
                                        next=safe_next(request.full_path)))
            authorize(principal, *permissions)
            if request.method != "POST":
                return view(*args, **kwargs)
            check_same_site()
            check_form_token()
            return _once(view, *args, **kwargs) if once else view(*args, **kwargs)

        wrapper.permissions = permissions  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def _once(view: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a form's view once for its nonce: sent again, it is refused; refused (a 4xx or
    an error), the nonce is released, so the corrected form can be sent."""
    cookie, nonce = request.cookies.get(COOKIE, ""), request.form.get("form_nonce", "")
    if not 16 <= len(nonce) <= 64:
        raise FormRefused("the form has no nonce; reload the page and try again")
    found = services()
    with found.db.transaction() as session:
        sessions.spend_form(session, cookie, nonce, found.clock.now())
    try:
        response = view(*args, **kwargs)
    except Exception:
        _release(cookie, nonce)
        raise
    if getattr(response, "status_code", 200) >= 400:
        _release(cookie, nonce)
    return response


def _release(cookie: str, nonce: str) -> None:
    with services().db.transaction() as session:
        sessions.release_form(session, cookie, nonce)


def check_same_site() -> None:
    """A form sent from another site is refused, whatever it carries: browsers say where a
    POST comes from (``Sec-Fetch-Site``; older ones only ``Origin``, which our pages'
    no-referrer policy turns into ``null`` even for their own forms). This is what guards
    the sign-in form, which has no session yet to derive a form token from (login CSRF)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        foreign = site not in ("same-origin", "none")
    else:
        origin = request.headers.get("Origin")
        ours = {origin_of(services().settings.issuer), request.host_url.rstrip("/")}
        foreign = origin not in (None, "null") and origin not in ours
    if foreign:
        raise FormRefused("this form was sent from another site; open the console itself "
                          "and try again")


def check_form_token() -> None:
    if not form_token_matches(FORMS, request.cookies.get(COOKIE),
                              request.form.get("csrf_token")):
        raise FormRefused("the form is stale or did not come from this console; reload the "
                          "page and try again")


def set_cookie(response: Response, value: str) -> Response:
    return set_page_cookie(response, COOKIE, value, path=PATH,
                           max_age=services().settings.console_session_lifetime)


def clear_cookie(response: Response) -> Response:
    response.delete_cookie(COOKIE, path=PATH)
    return response


def _signed_in() -> Any:
    """The admin the cookie's live session belongs to, as a principal (None otherwise)."""
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    found, now = services(), services().clock.now()
    with found.db.sessions() as session:  # a read: most pages write nothing
        current = sessions.current(session, cookie, now, lifetimes())
        principal = admins.principal(current[1]) if current else None
        stale = current is not None and sessions.stale(current[0], now)
    if stale:
        with found.db.transaction() as session:
            sessions.touch(session, cookie, now)
    if principal is not None:
        g.csrf_token = form_token(FORMS, cookie)
    return principal


def safe_next(target: str | None) -> str:
    """``target`` if it is a page of this console, else the dashboard."""
    return console_page(target) or url_for("console_dashboard.dashboard")


def console_blueprint(name: str, import_name: str, **options: Any) -> FamilyBlueprint:
    """A blueprint of console pages: errors render as console pages, every answer carries
    the pages' headers (nothing cached, never framed), and a signed-in admin's refused
    request is audited (``console.refused``) with its status and
    code, never the form (which may hold a secret)."""
    blueprint = FamilyBlueprint(name, import_name, url_prefix=PATH, family=Family.CONSOLE,
                                **options)
    blueprint.after_request(_audit_refusal)
    blueprint.url_defaults(_seal_notice)
    return blueprint


def _seal_notice(_endpoint: str, values: dict[str, Any]) -> None:
    """A notice put in a console URL is sealed (only the console shows it): a link made
    elsewhere cannot make a trusted page say what its author wants."""
    if isinstance(values.get(NOTICE), str):
        values[NOTICE] = services().sealer.seal(values[NOTICE][:300])


def _audit_refusal(response: Response) -> Response:
    return audit_refusal(response, "console.refused", g.get("refusal_code"))
