"""/healthz: liveness."""

from __future__ import annotations

from flask import Response, jsonify

from .. import __version__
from .errors import Family, FamilyBlueprint

blueprint = FamilyBlueprint("health", __name__, family=Family.PROBLEM)


@blueprint.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok", version=__version__)
