"""The package as installed: its public names, its typing marker, and the import-name clash."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import statemachine

ROOT = Path(statemachine.__file__).parent


def test_public_surface_names_of_rules_md() -> None:
    """The names RULES.md says callers import from statemachine are there."""
    names = (
        "Order",
        "Policy",
        "OrderError",
        "RequestError",
        "StoreFault",
        "EventRejected",
        "InvalidInput",
    )
    for name in names:
        assert name in statemachine.__all__
        assert hasattr(statemachine, name)
    assert issubclass(statemachine.InvalidInput, ValueError)
    assert issubclass(statemachine.EventRejected, statemachine.OrderError)


def test_ships_py_typed() -> None:
    """The package ships the PEP 561 marker so callers' type checkers read its hints."""
    assert (ROOT / "py.typed").is_file()


def test_import_fails_at_once_when_python_statemachine_is_installed(tmp_path: Path) -> None:
    """Importing statemachine beside python-statemachine raises ImportError naming the clash."""
    dist = tmp_path / "python_statemachine-2.3.0.dist-info"
    dist.mkdir()
    metadata = "Metadata-Version: 2.1\nName: python-statemachine\nVersion: 2.3.0\n"
    (dist / "METADATA").write_text(metadata)
    (dist / "top_level.txt").write_text("statemachine\n")
    (dist / "RECORD").write_text("")
    code = textwrap.dedent(
        """
        try:
            import statemachine
        except ImportError as exc:
            print("CLASH:", exc)
        else:
            print("IMPORTED")
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT.parent)])}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith("CLASH:")
    assert "python-statemachine" in out
    assert "pip uninstall python-statemachine" in out


def test_import_succeeds_without_the_clash() -> None:
    """Without python-statemachine the import works in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", "import statemachine; print(statemachine.Order.__name__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "Order"


def _modules() -> dict[str, ast.Module]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = ast.parse(path.read_text(encoding="utf-8"))
    return out


def _is_type_checking(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(name: str, tree: ast.Module, package: bool) -> set[str]:
    """The package's modules ``name`` imports at run time, at the top or inside a function
    (imports under ``if TYPE_CHECKING`` serve type hints only and are left out)."""
    found: set[str] = set()
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        if _is_type_checking(node):
            continue
        if isinstance(node, ast.ImportFrom) and node.level:
            base = name.split(".") if package else name.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            target = ".".join([*base, *([node.module] if node.module else [])])
            found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            mod = node.module if isinstance(node, ast.ImportFrom) else None
            names = [mod] if mod else [a.name for a in node.names]  # type: ignore[union-attr]
            found.update(n for n in names if n and n.startswith("statemachine"))
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                todo.append(child)
    return found


def test_core_modules_import_without_a_cycle() -> None:
    """The vocabulary, the table, the runtime, the order and the serializer import one another
    in one direction only: no module imports, even lazily, one that imports it back."""
    trees = _modules()
    packages = {n for n in trees if (ROOT.parent / n.replace(".", "/") / "__init__.py").exists()}
    graph = {
        n: {m for m in _imports(n, tree, n in packages) if m in trees and m != n}
        for n, tree in trees.items()
    }
    core = {n for n in graph if n.count(".") == 1 and n != "statemachine.__main__"}

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph[todo.pop()]:
                if nxt not in seen and nxt != "statemachine":
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    cycles = sorted(n for n in core if n in reach(n))
    assert cycles == [], f"import cycles through {cycles}"
    assert "statemachine.runtime._order" not in reach("statemachine.runtime._serialize")
    assert "statemachine.runtime._machine" not in reach("statemachine.declaration._checks")
    assert "statemachine.runtime._machine" not in reach("statemachine.declaration._table")


def _code_strings(tree: ast.Module) -> list[str]:
    """String constants of ``tree`` that are not docstrings or keys of a dict display (a fact
    named ``paid`` is the amount paid, not the state)."""
    keys = {id(k) for node in ast.walk(tree) if isinstance(node, ast.Dict) for k in node.keys}
    docstrings = keys | {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_state_names_are_written_only_in_the_table() -> None:
    """R14: the states (and which are final) are declared once, in the declaration's table
    (statemachine.declaration._table); no other module of the package spells a state's name as
    a string of its own."""
    spelled = {
        name: sorted(set(_code_strings(tree)) & set(statemachine.STATES))
        for name, tree in _modules().items()
        if name != "statemachine.declaration._table"
    }
    assert {n: s for n, s in spelled.items() if s} == {}


_TABLE_NAMES = frozenset(
    {"TABLE", "EVENTS", "STATES", "FINAL_STATES", "INITIAL_STATE", "CLOCK_EVENTS", "TRANSITIONS",
     "PROHIBITIONS", "STATE_SPECS"}
)  # fmt: skip
"""The module-level names of the declaration's table (statemachine.declaration._table): the
shipped table and what derives from it."""


def _defaults(tree: ast.AST) -> set[int]:
    """The ids of the nodes of ``tree`` that are a parameter's default or an attrs field's."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.update(id(d) for d in (*node.args.defaults, *node.args.kw_defaults) if d)
        elif isinstance(node, ast.Call) and ast.unparse(node.func) == "attrs.field":
            found.update(id(k.value) for k in node.keywords if k.arg == "default")
    return found


def _table_reads(tree: ast.AST) -> list[str]:
    """Where ``tree`` reads a module-level name of the declaration's table other than as a
    default: by name, as an attribute of the module, or through an import of anything but
    TABLE."""
    defaults = _defaults(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("table"):
            found += [f"imports {a.name}" for a in node.names if a.name != "TABLE" or a.asname]
        elif isinstance(node, ast.ImportFrom) and any(a.name == "table" for a in node.names):
            found.append("imports the table module")
        elif isinstance(node, ast.Name) and node.id in _TABLE_NAMES and id(node) not in defaults:
            found.append(f"line {node.lineno}: {node.id}")
        elif isinstance(node, ast.Attribute) and node.attr in _TABLE_NAMES:
            found.append(f"line {node.lineno}: .{node.attr}")
    return found


def test_the_runtime_reads_no_module_level_table() -> None:
    """R14: the runtime, the order and the replaying readers (from_dict, and the store's rows
    to orders with their clock deadline) answer from the order's own table: TABLE appears only
    as the default of a table parameter or field, EVENTS, STATES and the like not at all."""
    trees = _modules()
    reads = {
        name: _table_reads(trees[name])
        for name in (
            "statemachine.runtime._machine",
            "statemachine.runtime._order",
            "statemachine.runtime._serialize",
        )
    }
    reads["statemachine.store._rows"] = _table_reads(trees["statemachine.store._rows"])
    assert {name: found for name, found in reads.items() if found} == {}
    assert _table_reads(ast.parse("from .table import EVENTS\nx = TABLE.rows\ndef f(t=TABLE): ..."))
    assert _table_reads(ast.parse("def f(t=TABLE): ...")) == []


def test_every_error_descends_from_order_error_and_lives_in_errors() -> None:
    """Every exception class the package raises to callers is an OrderError declared in
    statemachine.errors, and each pickles to an equal message and data without __reduce__."""
    import pickle

    from statemachine import errors

    defined = [
        obj
        for tree_name in _modules()
        if not tree_name.endswith("__main__")
        for mod in [__import__(tree_name, fromlist=["_"])]
        for obj in vars(mod).values()
        if isinstance(obj, type)
        and issubclass(obj, BaseException)
        and obj.__module__.startswith("statemachine")
        and not obj.__name__.startswith("_")  # never reaches a caller
    ]
    assert defined
    for cls in defined:
        assert cls.__module__ == "statemachine.errors", cls
        assert issubclass(cls, errors.OrderError), cls
        assert "__reduce__" not in vars(cls), cls
    samples = [
        errors.InvalidInput("bad amount", field="amount"),
        errors.EventTooFarAhead("dated far ahead", field="at", facts={"max_skew_seconds": "300"}),
        errors.EventRejected("R2: no", rule="R2", event="e", state="s", order_id="o", facts={}),
        errors.UnknownOrder("AE-1"),
        errors.OrderExists("AE-1"),
        errors.CorruptOrder("AE-1", "its body is not JSON", field="body"),
        errors.TableError(["a problem"]),
        errors.GraphvizMissing("dot", "png"),
        errors.ConcurrentUpdate("lost", order_id="AE-1", event="dispatch", attempts=3),
        errors.SchemaVersionError("db", 2, 1),
        errors.VersionConflict("AE-1", 1, 2, "dispatch"),
        errors.StoreUnavailable("orders.db", "the file is not a SQLite database"),
        errors.NotPermitted("the supplier role may not", role="supplier", event="e", party="p"),
    ]
    branches = {errors.OrderError, errors.RequestError, errors.StoreFault}  # never raised bare
    assert {type(e) for e in samples} == {c for c in defined if c not in branches}
    for error in samples:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert str(copy) == str(error) and repr(copy) == repr(error)


def test_the_core_and_sqlite_store_work_without_the_optional_parts(tmp_path: Path) -> None:
    """With psycopg, OpenTelemetry, anyio, jsonschema, hypothesis, click, Rich and the web
    stack (FastAPI, Starlette, uvicorn, Jinja2, httpx) made unimportable, the package imports,
    fires events and keeps them in a SQLite file, and the demo's stories run (extras stay
    optional)."""
    code = textwrap.dedent(
        f"""
        import sys, importlib.abc, datetime as dt

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in {{"psycopg", "psycopg_pool", "opentelemetry",
                                           "anyio", "trio", "jsonschema", "hypothesis",
                                           "click", "rich", "fastapi", "starlette",
                                           "uvicorn", "jinja2", "httpx", "playwright"}}:
                    raise ImportError(f"{{name}} is blocked")
                return None

        sys.meta_path.insert(0, Block())
        from statemachine import Order
        from statemachine.store import SQLiteStore
        paid = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
        store = SQLiteStore({str(tmp_path / "orders.db")!r})
        store.add(Order.create("AE-1", "25.00", "USD", paid))
        store.apply("AE-1", "dispatch", at=paid, tracking_number="LP1")
        print(store.get("AE-1").state)
        from statemachine._demo import STORIES, run_story
        print(run_story(store, STORIES[1]).order.state)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["dispatched", "dispatched"]


def test_command_line_without_click_says_which_extra_to_install() -> None:
    """Without click (the cli extra), `python -m statemachine --help` is one line on stderr
    naming the extra, exit status 5, and no traceback."""
    code = textwrap.dedent(
        """
        import sys, importlib.abc, runpy

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in {"click", "rich"}:
                    raise ImportError(f"{name} is blocked", name=name)
                return None

        sys.meta_path.insert(0, Block())
        sys.argv = ["statemachine", "--help"]
        runpy.run_module("statemachine", run_name="__main__")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 5
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert "pip install 'order-statemachine[cli]'" in done.stderr


def test_the_web_extra_brings_what_orderfsm_serve_needs() -> None:
    """`pip install 'order-statemachine[web]'` is enough for `orderfsm serve`: the web extra
    holds every requirement of the cli extra (the command line), and the entry point is
    installed with the package whatever its extras."""
    import tomllib

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    assert set(extras["cli"]) <= set(extras["web"])
    assert project["scripts"]["orderfsm"].startswith("statemachine")


_SQL = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX)"
    r"|DROP\s+TABLE|ALTER\s+TABLE|BEGIN\s+IMMEDIATE|PRAGMA\s)",
    re.IGNORECASE | re.DOTALL,
)
_DRIVERS = frozenset({"sqlite3", "psycopg", "psycopg_pool"})
_PRIVATE_SCRATCH = frozenset({"statemachine.testing.log"})
"""check_log spills finished orders to a private, temporary SQLite file of its own, not to
the order database."""


def _strings(tree: ast.Module) -> list[str]:
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def test_only_the_store_talks_to_the_order_database() -> None:
    """No module outside statemachine/store writes SQL or imports a database driver (the web
    layer and the command line go through the store's methods), but check_log's private
    scratch file."""
    offenders: list[str] = []
    for name, tree in _modules().items():
        if name.startswith("statemachine.store") or name in _PRIVATE_SCRATCH:
            continue
        for text in _strings(tree):
            if _SQL.search(text):
                offenders.append(f"{name}: {text[:60]!r}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                offenders += [f"{name} imports {a.name}" for a in node.names if a.name in _DRIVERS]
            elif (
                isinstance(node, ast.ImportFrom)
                and not node.level
                and (node.module or "").split(".")[0] in _DRIVERS
            ):
                offenders.append(f"{name} imports {node.module}")
    assert offenders == []


def test_the_store_is_rooms_of_one_purpose_each() -> None:
    """Every module of statemachine/store holds one job and stays under about 800 lines."""
    sizes = {
        path.name: len(path.read_text(encoding="utf-8").splitlines())
        for path in (ROOT / "store").glob("*.py")
    }
    assert {"_unit.py", "_rows.py", "_schema.py", "_listings.py", "_outbox.py"} <= set(sizes)
    assert max(sizes.values()) <= 800, sizes


def test_every_module_a_user_should_not_import_is_private() -> None:
    """The public modules are those docs/api.md lists; every other module of the package has
    a name, or a folder on its path, starting with `_` (a package's `__main__` aside)."""
    from statemachine._docgen import PUBLIC_MODULES

    public = {name for name, _ in PUBLIC_MODULES}
    exposed = sorted(
        name
        for name in _modules()
        if name not in public and not any(part.startswith("_") for part in name.split(".")[1:])
    )
    assert exposed == []
