"""The layout's promises, checked on the source: nothing outside bench/ imports bench/."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIP = {".venv", "bench", "node_modules", ".git"}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def source_files() -> list[Path]:
    return [path for path in ROOT.rglob("*.py") if not SKIP & set(path.relative_to(ROOT).parts)]


def test_nothing_outside_bench_imports_bench():
    offenders = [str(path.relative_to(ROOT)) for path in source_files()
                 if any(name == "bench" or name.startswith("bench.") for name in imported_modules(path))]

    assert len(source_files()) > 100
    assert offenders == []


def test_config_holds_wiring_only():
    """Settings, URLs, the Celery app and the servers' entry points; shared infrastructure lives in core/."""
    modules = {path.stem for path in (ROOT / "config").glob("*.py")}

    assert modules == {"__init__", "settings", "urls", "celery", "wsgi", "asgi"}
