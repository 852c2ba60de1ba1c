"""Lists on the admin API: query parameters read through a schema, and one page at a time
behind a cursor (``{"items": [...], "next_cursor": "..." | null}``)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from marshmallow import Schema, fields, validate

from ...base.pages import DEFAULT_LIMIT, MAX_CURSOR, MAX_LIMIT, Page


class PageQuerySchema(Schema):
    cursor = fields.String(load_default=None, validate=validate.Length(1, MAX_CURSOR),
                           metadata={"description": "next_cursor of the page before"})
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(1, MAX_LIMIT))


def query_args(schema: Schema) -> dict[str, Any]:
    """The query string, validated by ``schema`` (a repeated parameter counts once)."""
    return schema.load(request.args.to_dict())


def page_response(page: Page[Any], schema: Schema | None, dump: Any = None) -> Response:
    """One page: each item read by ``dump(item)``, then dumped by ``schema`` (when given)."""
    items: Any = [dump(item) for item in page.items] if dump else page.items
    if schema is not None:
        items = schema.dump(items, many=True)
    return jsonify({"items": items, "next_cursor": page.next_cursor})


def page_schema(item: Any) -> dict[str, Any]:
    """The OpenAPI schema of a page of ``item``."""
    return {"type": "object", "required": ["items", "next_cursor"], "properties": {
        "items": {"type": "array", "items": item},
        "next_cursor": {"type": ["string", "null"],
                        "description": "pass as ?cursor= for the next page; null on the last"}}}
