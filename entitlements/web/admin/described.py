"""What the OpenAPI document says of each admin operation, written beside its view:
``@described("Show a client", answer=ClientSchema)``. The document (``openapi``) is built
from the routes themselves and these, so no route goes undocumented."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from marshmallow import Schema

F = TypeVar("F", bound=Callable[..., Any])
JSON = "application/json"


@dataclass(frozen=True)
class Described:
    summary: str
    #: The JSON body it takes, and the query parameters.
    body: type[Schema] | Schema | None = None
    query: type[Schema] | Schema | None = None
    #: The status and body of success (a page of ``answer`` when ``page``); None: an object
    #: described in the docs (dry runs, explanations, rebuilds).
    status: int = 200
    answer: type[Schema] | Schema | None = None
    page: bool = False
    media: str = JSON
    #: A 202 it may answer instead: a change waiting for a second admin, or a job.
    accepted: type[Schema] | None = None
    #: Whether a racing or repeated change can make it answer 409.
    conflicts: bool = True


def described(summary: str, **options: Any) -> Callable[[F], F]:
    def mark(view: F) -> F:
        view.described = Described(summary, **options)  # type: ignore[attr-defined]
        return view

    return mark
