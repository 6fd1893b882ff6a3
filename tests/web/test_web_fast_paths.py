"""What the service does for speed answers exactly as FastAPI and Starlette would: its JSON
(orjson) is Starlette's text, and the routes whose inputs it reads directly still honour
FastAPI's dependency overrides (docs/service.md, "Speed")."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.responses import JSONResponse
from web_helpers import READ, WRITE, ThreadServer

from statemachine.store import AsyncSQLiteStore
from statemachine.web import Settings, create_app
from statemachine.web._answers import JSONAnswer
from statemachine.web._deps import Reader

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.text(st.characters(exclude_categories=("Cs",))),  # what UTF-8 can carry
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(st.characters(exclude_categories=("Cs",))), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(_JSON)
def test_answers_are_written_as_starlette_writes_them(value: Any) -> None:
    """The service's answers hold text, whole numbers, booleans and nulls in lists and
    objects: for every such body, orjson's bytes are Starlette JSONResponse's, byte for byte
    (escapes, non-ASCII text, separators), so clients see the same text either way."""
    assert JSONAnswer(value).body == JSONResponse(value).body


def test_dependency_overrides_still_reach_the_direct_routes(tmp_path: Any) -> None:
    """R1: with an override of the read credential's check, GET /orders/{id} answers without a
    token (FastAPI's own handler runs while overrides are set); once the override is gone the
    token is required again (the direct handler, with the same checks)."""
    store = AsyncSQLiteStore(tmp_path / "orders.db")
    settings_ = Settings(token=WRITE, read_token=READ, sweep_interval=0)
    app = create_app(store, settings=settings_)
    check = Reader.__metadata__[0].dependency
    with ThreadServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        body = {
            "order_id": "AE-1",
            "amount": "25.00",
            "currency": "USD",
            "paid_at": dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC).isoformat(),
        }
        made = http.post("/orders", json=body, headers={"Authorization": f"Bearer {WRITE}"})
        assert made.status_code == 201
        assert http.get("/orders/AE-1").status_code == 401
        app.dependency_overrides[check] = lambda: app.state.orderfsm
        try:
            got = http.get("/orders/AE-1")
        finally:
            app.dependency_overrides.clear()
        assert got.status_code == 200 and got.json()["order"]["state"] == "paid"
        assert http.get("/orders/AE-1").status_code == 401
