"""Property-based fuzzing of everything that reads untrusted input: no input may give a traceback.

Config loaders (raw text, YAML built from the models' own keys, and the shipped profiles with
values swapped for hostile ones), the syslog parser and framer, the SIP parser, the lab's HTTP
servers (real sockets), the terminal cleaner and stream redactor, and the report writers. Each
property runs a fixed number of examples (FUZZ_EXAMPLES, or HILSEC_FUZZ_EXAMPLES) with no
per-example deadline (a loaded CI machine must not turn slowness into failures; the console's
and servers' own bounds are tested elsewhere), which keeps the whole set well under 2 minutes.
The number of inputs each property ran is printed at the end (`pytest -s`).
"""

from __future__ import annotations

import os
import socket
import tempfile
import typing
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from harness.analysis.sip import parse_messages
from harness.config import DeviceProfile, LabConfig, validate_files
from harness.config.loader import _validate
from harness.config.yamlfile import YamlDocument
from harness.errors import ConfigError
from harness.lab.services.base import LabEndpoints
from harness.lab.services.syslog import OctetFramer, SyslogReceiver, parse_syslog
from harness.lab.services.update_checks import UpdateCheckServers
from harness.lab.services.update_server import UpdateServer
from harness.report import load_results, write_report
from harness.report.terminal import format_summary
from harness.results.model import RunResult, TestResult, requirement_results
from harness.results.redact import StreamRedactor
from harness.results.verdicts import Verdict
from harness.transports.console import TerminalCleaner

ROOT = Path(__file__).resolve().parent.parent
FUZZ_EXAMPLES = int(os.environ.get("HILSEC_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
INPUTS: Counter[str] = Counter()

# Text of every kind, lone surrogates and terminal controls included.
ANY_CHAR = st.one_of(
    st.characters(),
    st.characters(categories=["Cs"]),
    st.sampled_from(["\x1b", "\x07", "\x9b", "\u202e", "\r", "\n", "\x00", "\ufeff"]),
)
ANY_TEXT = st.text(alphabet=ANY_CHAR, max_size=200)
HOSTILE_NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=10**30, max_value=10**60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 65535, 65536, 1e300, -0.0, True, False]),
)


@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    yield
    total = sum(INPUTS.values())
    print(
        f"\nfuzz inputs: {total} ({', '.join(f'{k} {v}' for k, v in sorted(INPUTS.items()))}); tracebacks: 0"
    )


# --- config loaders ------------------------------------------------------------------------------


def _field_names(model: type[BaseModel], seen: set[type] | None = None) -> set[str]:
    """Every key name a config model or its sections know (so fuzzed YAML reaches deep validators)."""
    seen = seen or set()
    if model in seen:
        return set()
    seen.add(model)
    names: set[str] = set()
    for name, info in model.model_fields.items():
        names.add(info.alias or name)
        stack = [info.annotation]
        while stack:
            current = stack.pop()
            if isinstance(current, type) and issubclass(current, BaseModel):
                names |= _field_names(current, seen)
            stack.extend(typing.get_args(current))
    return names


CONFIG_KEYS = sorted(_field_names(DeviceProfile) | _field_names(LabConfig))
SCALARS = st.one_of(st.none(), st.booleans(), HOSTILE_NUMBERS, ANY_TEXT, st.sampled_from(CONFIG_KEYS))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(CONFIG_KEYS), ANY_TEXT), inner, max_size=4),
    ),
    max_leaves=20,
)


def _assert_one_line_each(problems: list[str], path: Path) -> None:
    for line in problems:
        assert "\n" not in line and "\r" not in line and line.startswith(f"{path}: "), line


@FUZZ
@given(text=st.text(alphabet=ANY_CHAR, max_size=2000))
def test_fuzz_config_text(text: str) -> None:
    INPUTS["config text"] += 1
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        _assert_one_line_each(validate_files([path]), path)


@FUZZ
@given(
    kind=st.sampled_from(["device-profile", "lab-config", None]),
    body=st.dictionaries(st.sampled_from(CONFIG_KEYS), VALUES, max_size=8),
)
def test_fuzz_config_documents(kind: str | None, body: dict[str, Any]) -> None:
    INPUTS["config documents"] += 1
    document = {"kind": kind, **body} if kind else body
    try:
        text = yaml.safe_dump(document, allow_unicode=True)
    except (yaml.YAMLError, UnicodeEncodeError):
        return  # not representable as YAML: nothing a user could write
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        _assert_one_line_each(validate_files([path]), path)


SHIPPED = [
    *sorted((ROOT / "device_profiles").rglob("*.yaml")),
    *sorted((ROOT / "lab_configs").rglob("*.yaml")),
]


def _mutated(data: Any, path: list[int], value: Any) -> Any:
    """`data` with the value at a position chosen by `path` (indices into keys/items) replaced."""
    if not path or not isinstance(data, dict | list) or not data:
        return value
    keys = list(data) if isinstance(data, dict) else list(range(len(data)))
    key = keys[path[0] % len(keys)]
    copy = dict(data) if isinstance(data, dict) else list(data)
    copy[key] = _mutated(copy[key], path[1:], value)
    return copy


@FUZZ
@given(
    which=st.sampled_from(SHIPPED),
    mutations=st.lists(
        st.tuples(st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=5), VALUES),
        min_size=1,
        max_size=3,
    ),
)
def test_fuzz_shipped_configs_with_hostile_values(which: Path, mutations: list) -> None:
    """The real profiles with values swapped: every validator sees bad input, paths stay resolvable."""
    INPUTS["mutated configs"] += 1
    data = yaml.safe_load(which.read_text(encoding="utf-8"))
    for position, value in mutations:
        data = _mutated(data, position, value)
    if not isinstance(data, dict):
        return
    model = DeviceProfile if data.get("kind") == "device-profile" or "console" in data else LabConfig
    try:
        _validate(YamlDocument(path=which, data=data), model)
    except ConfigError as error:
        assert "\n" not in str(error)


# --- syslog, SIP ---------------------------------------------------------------------------------

SYSLOG_HEADS = st.sampled_from(
    [b"", b"<13>", b"<191>", b"<999>", b"<13>1 ", b"<13>Feb 31 25:61:61 ", b"<13>Feb 29 10:00:00 h app: ",
     b"<13>1 2026-02-31T25:61:61Z h a 1 - ", b"<13>1 - - - - - [x@1 a=\"", b"\xef\xbb\xbf"]
)  # fmt: skip


@FUZZ
@given(head=SYSLOG_HEADS, body=st.binary(max_size=600))
def test_fuzz_syslog_parser(head: bytes, body: bytes) -> None:
    INPUTS["syslog records"] += 1
    parsed = parse_syslog(head + body)
    assert isinstance(parsed.message, str)


@FUZZ
@given(
    chunks=st.lists(
        st.one_of(
            st.binary(max_size=300), SYSLOG_HEADS, st.sampled_from([b"\n", b"\0", b"5 ", b"99999999999 "])
        ),
        max_size=12,
    )
)
def test_fuzz_syslog_framer_and_store(chunks: list[bytes]) -> None:
    INPUTS["syslog streams"] += 1
    with tempfile.TemporaryDirectory() as folder:
        receiver = SyslogReceiver(Path(folder), max_records=20, max_message=256)
        framer = OctetFramer(max_message=256)
        for chunk in chunks:
            try:
                messages = framer.feed(chunk)
            except ValueError:  # an oversized counted frame: the connection is dropped, by design
                continue
            for message in messages:
                assert len(message) <= 256
                receiver.add(message, ("127.0.0.1", 1), "tcp")
        assert len(receiver.records()) <= 20 and receiver.unparseable == 0


SIP_STARTS = st.sampled_from(
    [
        b"REGISTER sip:lab SIP/2.0\r\n",
        b"SIP/2.0 200 OK\r\n",
        b"INVITE sip:x SIP/2.0\n",
        b"SIP/2.0 999 \r\n",
        b"",
    ]
)
SIP_HEADERS = st.lists(
    st.one_of(
        st.sampled_from([b"Content-Length: 99999999999999999999999\r\n", b"l: -5\r\n", b"v: SIP/2.0/UDP x\r\n",
                         b" folded\r\n", b"\tfolded\r\n", b"Content-Length: \xd9\xa1\r\n", b"From: <sip:a@b>\r\n"]),
        st.binary(max_size=80).map(lambda b: b + b"\r\n"),
    ),
    max_size=10,
)  # fmt: skip


@FUZZ
@given(
    start=SIP_STARTS,
    headers=SIP_HEADERS,
    end=st.sampled_from([b"\r\n", b"\n", b""]),
    body=st.binary(max_size=200),
)
def test_fuzz_sip_parser(start: bytes, headers: list[bytes], end: bytes, body: bytes) -> None:
    INPUTS["SIP messages"] += 1
    data = start + b"".join(headers) + end + body
    for message in parse_messages(data + data):
        assert message.raw and (message.is_request or message.status is not None)


# --- the lab's HTTP servers (real sockets) -------------------------------------------------------


@pytest.fixture(scope="module")
def http_servers(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("http-fuzz")
    updates = UpdateServer()
    updates.start(workdir, LabEndpoints("127.0.0.1", "127.0.0.1"))
    updates.publish("pkg.swu", b"package")
    checks = UpdateCheckServers()
    checks.start(workdir, LabEndpoints("127.0.0.1", "127.0.0.1"))
    servers = [updates._server, *(s._server for s in checks.servers.values())]
    yield servers
    updates.stop()
    checks.stop()


REQUEST_LINES = st.sampled_from(
    [b"GET /pkg.swu HTTP/1.0\r\n", b"GET /latest?v=1 HTTP/1.1\r\n", b"GET " + b"/" * 70000 + b" HTTP/1.0\r\n",
     b"POST / HTTP/1.1\r\n", b"GET /../../etc/passwd HTTP/1.0\r\n", b"\x16\x03\x01\x02\x00\x01", b"GET\r\n", b""]
)  # fmt: skip


@settings(parent=FUZZ, max_examples=max(20, FUZZ_EXAMPLES // 3))
@given(line=REQUEST_LINES, headers=st.lists(st.binary(max_size=120), max_size=8), which=st.integers(0, 2))
def test_fuzz_http_servers(http_servers, line: bytes, headers: list[bytes], which: int) -> None:
    INPUTS["HTTP requests"] += 1
    server = http_servers[which]
    request = line + b"".join(h.replace(b"\n", b"") + b"\r\n" for h in headers) + b"\r\n"
    with socket.create_connection(server.server_address, timeout=5) as conn:
        try:
            conn.sendall(request)
            conn.shutdown(socket.SHUT_WR)
            conn.settimeout(5)
            while conn.recv(65536):
                pass
        except OSError:
            pass  # the server may close first on garbage: what matters is that it lives on
    assert server.errors == 0


def test_http_servers_still_answer_after_the_fuzzing(http_servers) -> None:
    import urllib.request

    host, port = http_servers[0].server_address[:2]
    with urllib.request.urlopen(f"http://{host}:{port}/pkg.swu", timeout=10) as response:
        assert response.read() == b"package"
    assert all(server.errors == 0 for server in http_servers)


# --- the console's cleaner and the redactor ------------------------------------------------------

TERMINAL = st.lists(
    st.one_of(
        ANY_TEXT, st.sampled_from(["\x1b[", "\x1b]0;", "\x1b[6n", "[   12.345678] ", "[ ", "\x1b(", "\x07"])
    ),
    max_size=30,
)


@FUZZ
@given(chunks=TERMINAL)
def test_fuzz_terminal_cleaner(chunks: list[str]) -> None:
    INPUTS["console chunks"] += 1
    cleaner = TerminalCleaner()
    text = "".join(cleaner.feed(chunk) for chunk in chunks) + cleaner.flush()
    assert "\x1b" not in text and "\r" not in text


SECRET = b"Quill-5520"
NOT_SECRET = st.binary(max_size=100).map(lambda data: bytes(b for b in data if b not in SECRET))


@FUZZ
@given(
    before=NOT_SECRET,
    decoration=st.lists(st.sampled_from([b"", b"\x1b[31m", b"\x1b[0;1m", b"\x07", b"\x1b]0;t\x07"]), min_size=5, max_size=5),
    after=NOT_SECRET,
    cuts=st.lists(st.integers(0, 400), max_size=6),
)  # fmt: skip
def test_fuzz_stream_redactor(before: bytes, decoration: list[bytes], after: bytes, cuts: list[int]) -> None:
    """A decorated secret cut anywhere is masked whole: none of its bytes reach the output."""
    INPUTS["redacted streams"] += 1
    secret = SECRET
    pieces = [secret[:2], secret[2:4], secret[4:6], secret[6:8], secret[8:]]
    between = [*decoration[:4], b""]  # decorations inside the secret; what follows it is not part of it
    data = before + b"".join(p + d for p, d in zip(pieces, between, strict=True)) + after
    out: list[bytes] = []
    redactor = StreamRedactor([secret.decode()], out.append)
    edges = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    for start, end in zip(edges, edges[1:], strict=False):
        redactor.write(data[start:end])
    redactor.flush()
    written = b"".join(out)
    assert not set(written) & set(secret), written


# --- report writers ------------------------------------------------------------------------------


class _Req:
    def __init__(self, rid: str) -> None:
        self.id, self.title, self.source, self.crossrefs = rid, f"title {rid}", "FS.38", ()


@FUZZ
@given(
    reasons=st.lists(ANY_TEXT, min_size=1, max_size=4),
    nodeid=ANY_TEXT,
    device=st.dictionaries(
        ANY_TEXT, st.one_of(ANY_TEXT, HOSTILE_NUMBERS.filter(lambda n: n == n)), max_size=4
    ),
)
def test_fuzz_report_writers(reasons: list[str], nodeid: str, device: dict[str, Any]) -> None:
    INPUTS["reports"] += 1
    tests = [
        TestResult(
            nodeid=f"t.py::{nodeid}[{index}]",
            requirements=["FS38-05"],
            crossrefs=[],
            verdict=list(Verdict)[index % 4],
            reason=reason,
            evidence=[],
            duration_s=1.0,
        )
        for index, reason in enumerate(reasons)
    ]
    run = RunResult(
        device={"name": nodeid, **device},
        started="2026-01-01T00:00:00+00:00",
        finished="2026-01-01T00:00:01+00:00",
        harness_version="0",
        tests=tests,
        requirements=requirement_results([_Req("FS38-05")], tests),
    )
    with tempfile.TemporaryDirectory() as folder:
        report_dir = Path(folder)
        write_report(run, report_dir, secrets=["Quill-5520"])
        assert [t.reason for t in load_results(report_dir).tests] == [
            t.reason for t in run.redacted(["Quill-5520"]).tests
        ]
        for name in ("report.html", "requirements.csv", "junit.xml"):
            text = (report_dir / name).read_text(encoding="utf-8")
            assert "\x1b" not in text and "\x9b" not in text, name
    summary = format_summary(run)
    assert "\x1b" not in summary and summary.count("\n") <= len(reasons) + 1
