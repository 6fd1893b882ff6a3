# The two commands a fresh machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# python-statemachine also installs a top-level `statemachine`: it gets a venv of its own, for
# the bench's peer contender (bench/contender_psm.py) and its smoke test.
PSM_VERSION := 3.2.2
PSM_VENV := bench/.venv-psm
PSM_STAMP := $(PSM_VENV)/.installed-$(PSM_VERSION)

.PHONY: venv bench-venv test lint typecheck definitions pytest demo docs diagrams bench clean screenshots service-doc serve

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

$(PSM_STAMP):
	$(PYTHON) -m venv $(PSM_VENV)
	$(PSM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		python-statemachine==$(PSM_VERSION)
	touch $(PSM_STAMP)

bench-venv: $(PSM_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict statemachine

# A change to the rules (a row, a guard, a Policy default, R8's reasons) needs a new version.
definitions: $(STAMP)
	$(BIN)/orderfsm --definitions statemachine.examples.risk_hold definitions --check

pytest: $(STAMP) $(PSM_STAMP)
	$(BIN)/pytest -q -rs

test: lint typecheck definitions pytest

demo: $(STAMP)
	$(BIN)/orderfsm demo

# Benchmarks, not part of `make test`: ours against its peers on the same work (interleaved
# rounds), store throughput (SQLite and PostgreSQL, 1 and 8 writers) against bare SQL, then
# scale (bulk import, sweep, check_log at 100,000 orders and 1,000,000 log lines) against bare
# SQL and the previous release, then from_dict and the store's cold and warm reads (SQLite, and
# PostgreSQL when ORDER_SM_PG_DSN is set) against the release before issue 15, then the HTTP
# service against the store's direct apply, then the service under wrk (Debian's wrk; one
# uvicorn worker) against the work each request does. peers.py, bench_scale.py,
# bench_serialize.py, bench_http.py and bench_wrk.py write their tables into bench/README.md.
bench: $(STAMP) $(PSM_STAMP)
	$(BIN)/python bench/peers.py
	$(BIN)/python bench/bench_store.py
	$(BIN)/python bench/bench_scale.py
	$(BIN)/python bench/bench_serialize.py
	$(BIN)/python bench/bench_http.py
	$(BIN)/python bench/bench_wrk.py

docs: $(STAMP)
	$(BIN)/python -m statemachine._docgen > docs/rules.md
	$(BIN)/python -m statemachine._docgen --api > docs/api.md

# Rewrites diagrams/ (DOT, Mermaid, SVG, PNG) and the README's diagram section from the
# machine's table; SVG and PNG need Graphviz's dot (apt install graphviz).
diagrams: $(STAMP)
	$(BIN)/python -m statemachine.diagrams --out diagrams --readme-section docs/diagrams-readme-section.md

# The inspector's screenshot in docs/images/, taken by the browser test in Debian's chromium.
screenshots: $(STAMP)
	ORDERFSM_SCREENSHOTS=docs/images $(BIN)/pytest -q tests/web/test_web_inspector.py tests/web/test_web_a11y.py -k "order_page_marks or first_screens"

# Rewrites the requests and real answers in docs/service.md from a running service (curl).
service-doc: $(STAMP)
	$(BIN)/python tests/web/service_doc.py --write

# The service on a local SQLite file (tokens from ORDERFSM_TOKEN and ORDERFSM_READ_TOKEN).
serve: $(STAMP)
	$(BIN)/python -m statemachine.web --db orders.db --create

clean:
	rm -rf $(VENV) $(PSM_VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
