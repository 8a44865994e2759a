"""``/openapi.json``: an OpenAPI 3.1 document generated from the route table.

Parameter lists come from each endpoint's parameter Struct and replies from its
reply Structs, through ``msgspec.json.schema_components``, so the document cannot
drift from what the code reads and writes. Every endpoint is listed for GET (query
parameters) and POST (the same parameters as an urlencoded form, multipart form or
JSON object body).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from openwx_worker import __version__

from . import codes
from .endpoint import Endpoint
from .replies import ErrorReply

REF = "#/components/schemas/{name}"

_CODES_DOC = """Every JSON error is `{"code": <non-zero>, "status": "<readable text>"}`:
100 object not found; 101 can not be yourself / already a friend; 200 empty id list;
201 WeChat refused the operation; -1 send failed (or revoke: msg id not found;
accept_friend_request: failure); -5 TTL expired; -6 access token missing (HTTP 401) or
wrong (HTTP 403); 300 client not running (`state` names the state); 400 invalid
parameter; 404 unknown path (HTTP 404); 410 media refused; 411 media unavailable;
413 request body too large (HTTP 413); 500 internal error (HTTP 500); 502 WeChat
unreachable; any other code on a send is WeChat's own Ret value."""


def _param_type_schema(schema: dict[str, Any]) -> dict[str, Any]:
    # Query parameters are strings on the wire; keep the declared type for docs.
    return {k: v for k, v in schema.items() if k not in ("title",)}


def build_openapi(endpoints: Iterable[Endpoint]) -> dict[str, Any]:
    """The OpenAPI 3.1 document for these endpoints."""
    endpoints = list(endpoints)
    types: list[Any] = [ErrorReply]
    for endpoint in endpoints:
        types.append(endpoint.params)
        types.extend(endpoint.replies)
    schemas, components = msgspec.json.schema_components(types, ref_template=REF)
    by_type = dict(zip(types, schemas, strict=True))
    paths: dict[str, Any] = {}
    for endpoint in endpoints:
        param_schema = components[endpoint.params.__name__]
        parameters = [
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": prop.get("description", ""),
                "schema": _param_type_schema(prop),
            }
            for name, prop in param_schema.get("properties", {}).items()
        ]
        body_ref = {"$ref": REF.format(name=endpoint.params.__name__)}
        reply_schemas = [by_type[t] for t in endpoint.replies]
        if ErrorReply not in endpoint.replies:
            reply_schemas.append(by_type[ErrorReply])
        ok_content: dict[str, Any]
        if endpoint.content_type == "application/json":
            ok_content = {"application/json": {"schema": {"oneOf": reply_schemas}}}
        else:
            ok_content = {
                endpoint.content_type: {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": {"oneOf": reply_schemas}},
            }
        responses = {
            "200": {"description": "The answer (errors too: see `code`)", "content": ok_content},
            "401": {"description": "access token missing (code -6)"},
            "403": {"description": "access token wrong (code -6)"},
        }
        operation = {
            "operationId": endpoint.name,
            "summary": endpoint.summary,
            "description": endpoint.description,
            "parameters": parameters,
            "responses": responses,
        }
        post = dict(operation, operationId=endpoint.name + "_post", parameters=[])
        post["requestBody"] = {
            "required": False,
            "content": {
                "application/x-www-form-urlencoded": {"schema": body_ref},
                "multipart/form-data": {"schema": body_ref},
                "application/json": {"schema": body_ref},
            },
        }
        paths[f"/openwx/{endpoint.name}"] = {"get": operation, "post": post}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Openwx worker API",
            "version": __version__,
            "description": _CODES_DOC,
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "access_token": {"type": "apiKey", "in": "query", "name": "access_token"},
            },
        },
        "security": [{}, {"bearer": []}, {"access_token": []}],
        "x-codes": {name: value for name, value in vars(codes).items() if name.isupper()},
    }
