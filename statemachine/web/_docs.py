"""``/docs``: the API's documentation page, Swagger UI on ``/openapi.json``.

Its files come from the ``swagger-ui-py`` package (Swagger UI 5, which reads OpenAPI 3.1),
served by the service itself with Swagger UI's licence beside them, never from a CDN; the page
starts it with a script file of this package (``static/docs.js``), never an inline script,
under the inspector's content security policy with the service's own scripts allowed
(:func:`~._security.page_headers`). It is public, like ``/openapi.json``: it shows what the
document says and holds no order; its "Try it out" sends the token typed into it, from the
page, as any client would.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import Final

from fastapi import APIRouter
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ._inspect import templates
from ._routing import DirectRoute
from ._security import page_headers

__all__ = ["router"]

router = APIRouter(include_in_schema=False, route_class=DirectRoute)

_HERE: Final = Path(__file__).resolve().parent
_ASSETS: Final[dict[str, tuple[str, str]]] = {
    "swagger-ui-bundle.js": ("swagger_ui", "text/javascript; charset=utf-8"),
    "swagger-ui.css": ("swagger_ui", "text/css; charset=utf-8"),
    "LICENSE": ("swagger_ui", "text/plain; charset=utf-8"),
    "docs.js": ("statemachine.web", "text/javascript; charset=utf-8"),
}
"""The files ``/docs`` loads, the package that ships each, and its type; nothing else of the
package's folder is served."""


def _folder(package: str) -> Path | None:
    """The static files' folder of ``package`` (found without importing it)."""
    if package == "statemachine.web":
        return _HERE / "static"
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "static"


@cache
def _asset(name: str) -> bytes:
    package, _ = _ASSETS[name]
    folder = _folder(package)
    if folder is None or not (folder / name).is_file():
        raise HTTPException(
            503,
            "the documentation page needs the swagger-ui-py package: "
            "pip install 'order-statemachine[web]'",
        )
    return (folder / name).read_bytes()


@router.get("/docs", name="api_docs")
async def docs(request: Request) -> Response:
    """The documentation page (Swagger UI)."""
    base = str(request.scope.get("root_path", "")).rstrip("/")
    html = templates.get_template("docs.html").render(base=base)
    return HTMLResponse(html, headers=page_headers(scripts=True))


@router.get("/docs/{name}", name="api_docs_asset")
async def asset(name: str) -> Response:
    """One of the page's files."""
    if name not in _ASSETS:
        raise HTTPException(404, "no such file of the documentation page")
    headers = page_headers() | {"Cache-Control": "public, max-age=86400"}
    return Response(_asset(name), media_type=_ASSETS[name][1], headers=headers)
