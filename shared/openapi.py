"""A service's routes, declared once: the aiohttp URL table and the OpenAPI 3.1 document
are both built from the same list, so the document cannot drift from what is served."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from shared.http import json_response

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "detail": {"type": "string"},
        "correlation_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "code", "message"],
                "properties": {
                    "field": {"type": "string"},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    body: type[BaseModel] | None = None
    responses: dict[int, type[BaseModel] | None] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    security: tuple[str, ...] = ()
    public_api: bool = True  # False: a page, left out of the document
    # Query parameters and request headers the handler reads: name → (JSON schema,
    # required). Declared so the document is the whole contract (and fuzzing reaches them).
    query: dict[str, tuple[dict[str, Any], bool]] = field(default_factory=dict)
    headers: dict[str, tuple[dict[str, Any], bool]] = field(default_factory=dict)
    # Other media types a status may answer with (the registration list's text/csv).
    media: dict[int, tuple[str, ...]] = field(default_factory=dict)


def _operation_id(r: Route) -> str:
    path = r.path.strip("/").replace("/", "_").replace("{", "").replace("}", "")
    return f"{r.method.lower()}_{path}"


def add_routes(app: web.Application, routes: Sequence[Route]) -> None:
    for r in routes:
        app.router.add_route(r.method, r.path, r.handler)


def document(title: str, version: str, routes: Sequence[Route]) -> dict[str, Any]:
    schemas: dict[str, Any] = {"Problem": PROBLEM_SCHEMA}
    paths: dict[str, Any] = {}

    def ref(model: type[BaseModel]) -> dict[str, str]:
        js = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in js.pop("$defs", {}).items():
            schemas[name] = sub
        schemas[model.__name__] = js
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    for r in routes:
        if not r.public_api:
            continue
        op: dict[str, Any] = {
            "summary": r.summary,
            "operationId": _operation_id(r),
            "responses": {},
        }
        if r.tags:
            op["tags"] = list(r.tags)
        params = [
            {"name": seg[1:-1], "in": "path", "required": True, "schema": {"type": "string"}}
            for seg in r.path.split("/")
            if seg.startswith("{") and seg.endswith("}")
        ]
        params += [
            {"name": name, "in": "query", "required": required, "schema": schema}
            for name, (schema, required) in r.query.items()
        ]
        params += [
            {"name": name, "in": "header", "required": required, "schema": schema}
            for name, (schema, required) in r.headers.items()
        ]
        if params:
            op["parameters"] = params
        if r.security:
            op["security"] = [{name: []} for name in r.security]
        if r.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(r.body)}},
            }
        for status, model in (r.responses or {200: None}).items():
            content = {"application/json": {"schema": ref(model)}} if model else None
            op["responses"][str(status)] = {"description": str(status)}
            for media_type in r.media.get(status, ()):
                content = {**(content or {}), media_type: {"schema": {"type": "string"}}}
            if content:
                op["responses"][str(status)]["content"] = content
        op["responses"]["default"] = {
            "description": "problem",
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "organizer": {"type": "http", "scheme": "bearer"},
                "device": {"type": "http", "scheme": "bearer"},
                "registrationSecret": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Registration-Secret",
                },
            },
        },
    }


def openapi_route(service: str, routes_fn: Callable[[], Sequence[Route]]) -> Route:
    async def handler(request: web.Request) -> web.StreamResponse:
        return json_response(document(f"Tomoni {service}", "1", routes_fn()))

    return Route(
        "GET", f"/api/{service}/openapi.json", handler, "This OpenAPI document", public_api=False
    )
