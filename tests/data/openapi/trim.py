"""Trim Anthropic's OpenAPI description to what the tests validate against.

    python tests/data/openapi/trim.py FULL.json > tests/data/openapi/anthropic-messages.json

Keeps the POST operations of the message paths the tests use (their request bodies only: the
responses are replaced by a bare ``200``), and the schemas those bodies reach through ``$ref``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

PATHS = (
    "/v1/messages",
    "/v1/messages?beta=true",
    "/v1/messages/count_tokens",
    "/v1/messages/count_tokens?beta=true",
    "/v1/messages/batches",
    "/v1/messages/batches?beta=true",
)
PREFIX = "#/components/schemas/"


def refs(node: Any) -> set[str]:
    """The schema names ``node`` points at."""
    if isinstance(node, dict):
        found = {node["$ref"][len(PREFIX) :]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= refs(value)
        return found
    if isinstance(node, list):
        return set().union(*map(refs, node)) if node else set()
    return set()


def trim(full: dict[str, Any]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path in PATHS:
        post = dict(full["paths"][path]["post"])
        post["responses"] = {"200": {"description": "OK (responses are not kept here)"}}
        paths[path] = {"post": post}
    schemas = full["components"]["schemas"]
    keep: set[str] = set()
    todo = refs(paths)
    while todo:
        name = todo.pop()
        if name not in keep:
            keep.add(name)
            todo |= refs(schemas[name]) - keep
    return {
        "openapi": full["openapi"],
        "info": {**full["info"], "version": "unknown"},
        "paths": paths,
        "components": {"schemas": {name: schemas[name] for name in sorted(keep)}},
    }


if __name__ == "__main__":
    full = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    json.dump(trim(full), sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")
