"""statemachine.web is rooms of one purpose each: one router per resource, who may in declared
as FastAPI dependencies rather than checked by hand, and one module that parses requests
(issue 16, point 2)."""

from __future__ import annotations

import ast
from pathlib import Path

from fastapi.routing import APIRoute

from statemachine.web import _deps, _diagrams, _docs, _events, _health, _inspect, _orders

WEB = Path(__file__).resolve().parents[2] / "statemachine" / "web"
ROUTERS = {
    "orders": _orders,
    "events": _events,
    "diagrams": _diagrams,
    "health": _health,
    "inspector": _inspect,
    "docs": _docs,
}


def _modules() -> dict[str, ast.Module]:
    return {p.name: ast.parse(p.read_text(encoding="utf-8")) for p in WEB.glob("*.py")}


def test_every_module_stays_under_about_800_lines() -> None:
    """No module of statemachine/web passes about 800 lines."""
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in WEB.glob("*.py")}
    assert max(sizes.values()) <= 800, sizes


def test_one_router_per_resource_and_each_route_in_its_own() -> None:
    """Each resource has its router; no two routers serve the same path and method."""
    seen: dict[tuple[str, str], str] = {}
    for resource, module in ROUTERS.items():
        routes = [r for r in module.router.routes if isinstance(r, APIRoute)]
        assert routes, resource
        for route in routes:
            for method in route.methods:
                key = (method, route.path)
                assert key not in seen, (key, seen.get(key), resource)
                seen[key] = resource


def test_who_may_in_is_a_dependency_of_each_protected_route() -> None:
    """Every API route but the public ones (health, the lifecycle, /docs) depends on the
    bearer check (which hands it the service) or on the event sender, so none can forget it."""
    public = {"/healthz", "/readyz", "/lifecycle.svg", "/docs", "/docs/{name}"}
    for module in (_orders, _events, _diagrams, _health, _docs):
        for route in module.router.routes:
            assert isinstance(route, APIRoute)
            guarded = [
                d.call
                for d in route.dependant.dependencies
                if isinstance(d.call, _deps.BearerAccess) or d.call is _deps.event_sender
            ]
            assert bool(guarded) is (route.path not in public), route.path


def test_only_the_parsing_module_reads_a_request_body() -> None:
    """json.loads, Decimal and fromisoformat appear in _parsing alone among the routers, so a
    shared parser can take its place."""
    for name, tree in _modules().items():
        if name in ("_parsing.py", "_security.py", "_background.py", "_settings.py"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                assert node.attr not in ("loads", "fromisoformat"), (name, node.attr)
            if isinstance(node, ast.Name):
                assert node.id != "Decimal", name
