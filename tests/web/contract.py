"""The served OpenAPI document as a contract: every answer a test gets is checked against it.

The service answers with hand-built JSON (the package's own ``to_dict()`` forms) rather than
through response models, so nothing but this check keeps the document true. The ``client``
fixture of the web tests runs :meth:`Contract.check` on every response: an operation of the
document must list the status it answered, with the media type it answered, and the body
must be valid against that answer's schema (``jsonschema``, formats such as date-time
checked).
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from jsonschema import Draft202012Validator

_JSON = re.compile(r"^application/([a-z0-9.+-]*\+)?json$")


class Contract:
    """The operations of an OpenAPI document, found by method and path."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.paths = [
            (re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(p)) + "$"), p)
            for p in doc["paths"]
        ]

    def operation(self, method: str, path: str) -> dict[str, Any] | None:
        """The operation a request reaches (``None``: one the document does not describe)."""
        for pattern, template in self.paths:
            if pattern.match(path):
                found: dict[str, Any] | None = self.doc["paths"][template].get(method.lower())
                return found
        return None

    def validate(self, instance: object, schema: dict[str, Any]) -> None:
        """``instance`` is valid against ``schema``, whose references are the document's."""
        rooted = {**schema, "components": self.doc["components"]}
        Draft202012Validator(rooted, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(
            instance
        )

    def check(self, response: httpx.Response) -> None:
        """An answer is one its operation lists: its status, media type and body."""
        request = response.request
        path = request.url.raw_path.decode("ascii").split("?")[0]
        operation = self.operation(request.method, path)
        if operation is None:
            return
        response.read()
        where = f"{request.method} {path[:80]} answered {response.status_code}"
        declared = operation["responses"].get(str(response.status_code))
        assert declared is not None, f"{where}, which {operation['operationId']} does not list"
        content = declared.get("content")
        if not content:
            assert not response.content, f"{where} with a body its operation does not describe"
            return
        media = response.headers.get("content-type", "").split(";")[0].strip()
        assert media in content, f"{where} as {media}, not {', '.join(content)}"
        if _JSON.match(media):
            try:
                self.validate(json.loads(response.content), content[media]["schema"])
            except Exception as exc:
                raise AssertionError(f"{where}: {exc}") from None
