"""Where the security suites are: the checkout's testsuites/, or the installed `harness.testsuites`.

The wheel carries testsuites/ as the package `harness.testsuites` (see setup.py), so a lab that
pip-installs hilsec runs the same suites as a checkout. Runs name the built-in suites with the
folder above them as pytest's rootdir, so node IDs read `testsuites/test_x.py::test_y` either way
and reports of an installed run diff cleanly against a checkout's.
"""

from __future__ import annotations

from pathlib import Path

from harness.errors import ConfigError

_PACKAGE_DIR = Path(__file__).resolve().parent


def builtin_suites_dir() -> Path:
    """The checkout's testsuites/ beside the harness package, else the installed harness/testsuites."""
    for candidate in (_PACKAGE_DIR.parent / "testsuites", _PACKAGE_DIR / "testsuites"):
        if (candidate / "__init__.py").is_file():
            return candidate
    raise ConfigError(
        str(_PACKAGE_DIR),
        "testsuites",
        "this hilsec has no built-in suites (neither a checkout's testsuites/ nor harness/testsuites)",
        "a checkout, or hilsec installed from its wheel",
    )


def suite_dirs(extra: list[Path] | None = None, *, builtin: bool = True) -> list[Path]:
    """The folders a run collects: the built-in suites (unless `builtin` is False), then each
    of a lab's own suite folders; a folder that does not exist is a one-line ConfigError."""
    folders = [builtin_suites_dir()] if builtin else []
    for folder in extra or []:
        if not Path(folder).is_dir():
            raise ConfigError(str(folder), "--suites", "no such directory", "a folder of test modules")
        folders.append(Path(folder))
    if not folders:
        raise ConfigError("hilsec run", "--no-builtin-suites", "no suites left to run", "--suites DIR")
    return folders


def rootdir_for(folders: list[Path]) -> Path:
    """pytest's rootdir for a run: the folder above the built-in suites, so node IDs are stable."""
    return folders[0].resolve().parent
