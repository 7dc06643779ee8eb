"""Every setting the code reads from the environment is in the README's settings table."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def environment_settings() -> set[str]:
    source = (ROOT / "config" / "settings.py").read_text()
    return set(re.findall(r"""env(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]+)["']""", source))


def documented_settings() -> set[str]:
    table = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| `")]
    return {name for line in table for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", line)}


def test_every_environment_setting_is_in_the_readme_table():
    read = environment_settings()

    assert len(read) > 40  # the scan found the settings
    assert sorted(read - documented_settings()) == []
