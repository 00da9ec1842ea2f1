"""The service's OpenAPI 3.1 description (written out: the routes are few and their bodies are the CLI's JSON)."""

from __future__ import annotations

from typing import Any

_AS_OF = {"name": "as_of", "in": "query", "required": False, "schema": {"type": "string", "format": "date-time"},
          "description": "RFC 3339 time to judge at; events after it are not evaluated (counted as skipped)."}
_CASE = {"name": "case", "in": "path", "required": True, "schema": {"type": "string"}}
_ERRORS = {"401": {"description": "No token, or an unknown one"},
           "403": {"description": "The token lacks the scope"}}
_JSON = {"application/json": {"schema": {"type": "object"}}}


def _get(summary: str, scope: str, params: list[dict[str, Any]] | None = None, media: str = "application/json"
         ) -> dict[str, Any]:
    return {"get": {"summary": summary, "security": [{"bearer": [scope]}], "parameters": params or [],
                    "responses": {"200": {"description": "OK", "content": {media: {"schema": {"type": "object"}}}},
                                  **_ERRORS}}}


def _ingest(summary: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"post": {
        "summary": summary, "security": [{"bearer": ["ingest"]}],
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": {}}, "application/x-ndjson": {"schema": {"type": "string"}},
            "application/cloudevents+json": {"schema": {"type": "object"}},
            "application/cloudevents-batch+json": {"schema": {"type": "array"}}}},
        "responses": {
            "200": {"description": "Committed: each record accepted, duplicate (its id is stored) or rejected "
                                   "(line and reason)", "content": {"application/json": {"schema": {
                                       "$ref": "#/components/schemas/IngestResult"}}}},
            "400": {"description": "Empty body"}, **_ERRORS,
            "413": {"description": "Body larger than the limit; nothing stored"},
            "422": {"description": "Every record rejected (they are stored as rejected records)"},
            **(extra or {})}}}


def openapi(version: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "sopengine serve", "version": version,
                 "description": "Live SOP monitoring: events in, the batch audit's findings out."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "API token with scopes ingest, read, admin"}},
            "schemas": {"IngestResult": {"type": "object", "properties": {
                "accepted": {"type": "integer"}, "duplicate": {"type": "integer"}, "rejected": {"type": "integer"},
                "records": {"type": "array", "items": {"type": "object", "properties": {
                    "line": {"type": "integer"}, "status": {"enum": ["accepted", "duplicate", "rejected"]},
                    "id": {"type": "string"}, "case": {"type": "string"}, "error": {"type": "string"}}}}}}}},
        "paths": {
            "/events": _ingest("Ingest canonical events: one, a JSON array, NDJSON, or CloudEvents (structured)"),
            "/webhooks/{mapping}": _ingest("A webhook read through the input mapping NAME.input.yaml beside the "
                                           "pack (docs/serve.md); with a shared secret for it, the X-Hub-Signature "
                                           "header is the credential instead of a token",
                                           {"404": {"description": "No such input mapping beside the pack"}}),
            "/next": _get("The worklist, as sopengine next --format json (default as of now)", "read", [
                _AS_OF,
                {"name": "sop", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}},
                {"name": "rule", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}},
                {"name": "where", "in": "query", "description": "COLUMN=VALUE",
                 "schema": {"type": "array", "items": {"type": "string"}}},
                {"name": "overdue", "in": "query", "schema": {"type": "boolean"}}]),
            "/findings": _get("The audit JSON (sopengine audit --format json, without provenance); default as of "
                              "the latest event", "read", [_AS_OF]),
            "/cases/{case}/findings": _get("One case's findings and worklist items", "read", [_CASE, _AS_OF]),
            "/cases/{case}/explain": _get("sopengine explain CASE --format json", "read", [_CASE, _AS_OF]),
            "/": _get("The worklist page (HTML, reloads itself)", "read", [_AS_OF], "text/html"),
            "/healthz": _get("Liveness", "read"),
            "/readyz": _get("Readiness: 503 until the state is rebuilt from the store", "read"),
            "/metrics": _get("Prometheus metrics", "read", media="text/plain"),
            "/openapi.json": _get("This description", "read"),
            "/admin/dead-letters": _get("Notifications given up on", "admin"),
        },
    }
