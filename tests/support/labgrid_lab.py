"""A real labgrid coordinator and exporter on loopback for the harness's tests: started from the
venv's labgrid, waited for, asked with a bounded `labgrid-client`.

tests/test_labgrid_place.py serves the bench twin through them; tests/test_labgrid_exits.py and
tests/test_labgrid_xdist.py only need places to hold (`start_places`: an exporter exporting power
ports that nothing switches). Every wait here has a timeout, and a process that dies while it is
awaited ends the wait with its log's tail.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import yaml

from harness.util.ports import free_port
from harness.util.processes import stop_process

BIN = Path(sys.executable).parent
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
CLIENT_TIMEOUT_S = 30.0
POLL_S = 0.2

T = TypeVar("T")


def labgrid_installed() -> bool:
    return all(
        (BIN / name).exists() for name in ("labgrid-coordinator", "labgrid-exporter", "labgrid-client")
    )


def client_env(coordinator: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "LG_COORDINATOR": coordinator, **extra}


def wait_for(
    what: str,
    ready: Callable[[], T],
    timeout_s: float,
    process: subprocess.Popen | None = None,
    log: Path | None = None,
) -> T:
    """`ready()`'s first true value within `timeout_s`; AssertionError with the log's tail when
    it does not come, or `process` ends first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            break
        value = ready()
        if value:
            return value
        time.sleep(POLL_S)
    tail = log.read_text(errors="replace")[-1500:] if log is not None and log.exists() else ""
    raise AssertionError(f"{what} not within {timeout_s:.0f} s\n{tail}")


def start(argv: list[str], log: Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`argv` in a session of its own (a process group the test can signal), output to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=env,
        )  # fmt: skip


def _listening(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1.0):
            return True
    except OSError:
        return False


def start_coordinator(workdir: Path) -> tuple[subprocess.Popen, str]:
    """A coordinator on a free loopback port, listening; it keeps places.yaml in `workdir`."""
    address = f"127.0.0.1:{free_port()}"
    log = workdir / "coordinator.log"
    process = start([str(BIN / "labgrid-coordinator"), "-l", address], log, workdir)
    wait_for("the coordinator", lambda: _listening(address), START_TIMEOUT_S, process, log)
    return process, address


def start_exporter(
    workdir: Path, coordinator: str, config: Path, name: str = "exporter", exporter: str = "twin-exporter"
) -> subprocess.Popen:
    """An exporter named `exporter` serving `config`'s resources, once it says it is ready."""
    log = workdir / f"{name}.log"
    argv = [
        str(BIN / "labgrid-exporter"), "-c", coordinator, "-n", exporter, "--hostname", "127.0.0.1", str(config),
    ]  # fmt: skip
    process = start(argv, log, workdir)
    wait_for("the exporter", lambda: b"Exporter ready" in log.read_bytes(), START_TIMEOUT_S, process, log)
    return process


def client(
    coordinator: str, *args: str, user: str | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    """`labgrid-client ARGS` (as another `user` when given), bounded; its output as text."""
    extra = {"LG_USERNAME": user} if user else {}
    return subprocess.run(
        [str(BIN / "labgrid-client"), *args],
        env=client_env(coordinator, **extra),
        check=check,
        timeout=CLIENT_TIMEOUT_S,
        capture_output=True,
        text=True,
    )


def start_places(
    workdir: Path, exporter: str, places: dict[str, dict[str, str]]
) -> tuple[list[subprocess.Popen], str]:
    """A coordinator with `places` (name -> tags), each matching a group of its own that holds one
    power port nothing switches, and an exporter serving them; (the processes, started first
    first, and the coordinator's address) once the coordinator has every group's resource.

    The places are written as the coordinator saves them (faster than labgrid-client calls a
    place), and the coordinator reads them as it starts in `workdir`."""
    (workdir / "places.yaml").write_text(
        yaml.safe_dump({
            name: {
                "matches": [{"exporter": exporter, "group": name, "cls": "*", "name": None, "rename": None}],
                "tags": dict(tags),
            }
            for name, tags in places.items()
        })
    )  # fmt: skip
    port = {
        "NetworkPowerPort": {"model": "simplerest", "host": "http://127.0.0.1:9/{index}/{value}", "index": 0}
    }
    config = workdir / "exporter.yaml"
    config.write_text(yaml.safe_dump({name: port for name in places}))
    started: list[subprocess.Popen] = []
    try:
        coordinator_process, coordinator = start_coordinator(workdir)
        started.append(coordinator_process)
        started.append(start_exporter(workdir, coordinator, config, exporter=exporter))
        wait_for("the exporter's resources at the coordinator", lambda: all(
            f"{exporter}/{name}/" in client(coordinator, "resources").stdout for name in places
        ), START_TIMEOUT_S)  # fmt: skip
    except BaseException:
        for process in reversed(started):
            stop_process(process, STOP_TIMEOUT_S)
        raise
    return started, coordinator


def reservations(coordinator: str) -> dict[str, str]:
    """Token -> state of every reservation the coordinator keeps (`labgrid-client reservations`)."""
    said = client(coordinator, "reservations").stdout
    tokens = re.findall(r"^Reservation '([^']+)':", said, re.MULTILINE)
    states = re.findall(r"^\s+state: (\w+)", said, re.MULTILINE)
    return dict(zip(tokens, states, strict=True))
