"""The report directory's manifest: every file a run wrote, hashed, optionally signed.

`REPORT_DIR/SHA256SUMS` (GNU coreutils format, paths relative to the report directory) lists
results.json, every rendered report and every evidence file (evidence/SHA256SUMS included), so
`sha256sum -c SHA256SUMS` checks a report without hilsec. With the lab's Ed25519 key, the run
signs it (SHA256SUMS.sig, raw; SHA256SUMS.pub, the signer's public key). `verify_report` fails on
any changed, missing, extra or symlinked file, a bad signature, or a results.json whose
requirement verdicts do not follow from its tests'.

A sealed directory is never re-sealed by anyone else: `hilsec report DIR --out NEW` renders into a
new folder with a copy of results.json, `rendered-from.json` (which results and manifest, by
hash) and its own manifest, signed with the key of whoever re-rendered.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from harness.report.sums import SUMS_NAME, SumProblem, format_line, parse_line, sha256_file
from harness.report.sums import verify_sha256sums as verify_evidence_sums
from harness.util.files import write_atomically

MANIFEST_NAME = SUMS_NAME  # REPORT_DIR/SHA256SUMS, beside evidence/SHA256SUMS
SIGNATURE_NAME = f"{MANIFEST_NAME}.sig"
PUBLIC_KEY_NAME = f"{MANIFEST_NAME}.pub"
RENDERED_FROM_NAME = "rendered-from.json"
SEAL_FILES = (MANIFEST_NAME, SIGNATURE_NAME, PUBLIC_KEY_NAME)


def report_files(report_dir: Path) -> tuple[list[str], list[str]]:
    """(regular files, symlinks) under report_dir as sorted POSIX paths, the seal files left out."""
    files: list[str] = []
    links: list[str] = []
    root = Path(report_dir)
    for folder, dirs, names in os.walk(root, followlinks=False):
        base = Path(folder)
        for name in [*dirs, *names]:
            path = base / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                links.append(rel)
            elif name in names and path.is_file() and rel not in SEAL_FILES:
                files.append(rel)
        dirs[:] = [d for d in dirs if not (base / d).is_symlink()]
    return sorted(files), sorted(links)


def is_sealed(report_dir: Path) -> bool:
    return (Path(report_dir) / MANIFEST_NAME).is_file()


def write_manifest(report_dir: Path, signing_key=None) -> list[Path]:
    """Hash every file of the report directory into SHA256SUMS; sign it when given a key."""
    root = Path(report_dir)
    files, _links = report_files(root)
    text = "".join(format_line(sha256_file(root / rel), rel) for rel in files)
    manifest = write_atomically(root / MANIFEST_NAME, text)
    written = [manifest]
    for stale in (SIGNATURE_NAME, PUBLIC_KEY_NAME):
        (root / stale).unlink(missing_ok=True)
    if signing_key is not None:
        from harness.report.signing import public_pem, sign

        write_atomically(root / SIGNATURE_NAME, sign(signing_key, manifest.read_bytes()))
        write_atomically(root / PUBLIC_KEY_NAME, public_pem(signing_key.public_key()))
        written += [root / SIGNATURE_NAME, root / PUBLIC_KEY_NAME]
    return written


@dataclass
class Verification:
    """What `hilsec report verify` found: problems (empty: intact), and what the signature says."""

    report_dir: Path
    checked: int = 0
    problems: list[SumProblem] = field(default_factory=list)
    signature: str = "unsigned"  # "unsigned" | "valid (KEY)" | "valid, key not pinned (KEY)"

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        if self.problems:
            return [f"{self.report_dir}: {problem}" for problem in self.problems]
        return [f"{self.report_dir}: {self.checked} files intact; signature: {self.signature}"]


def verify_report(report_dir: Path, public_key=None) -> Verification:
    """Recompute every hash of a report directory and check its signature and its roll-up.

    `public_key` pins the signer: without it a valid signature only says which key signed.
    """
    root = Path(report_dir)
    result = Verification(root)
    problems = result.problems
    manifest = root / MANIFEST_NAME
    if manifest.is_symlink() or not manifest.is_file():
        problems.append(SumProblem(MANIFEST_NAME, "missing (the report directory is not sealed)"))
        return result
    listed: dict[str, str] = {}
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), start=1):
        parsed = parse_line(line)
        if parsed is None:
            problems.append(SumProblem(f"{MANIFEST_NAME}:{number}", "malformed line"))
            continue
        listed[parsed[1]] = parsed[0]
    files, links = report_files(root)
    problems.extend(SumProblem(rel, "symlink (a report holds regular files only)") for rel in links)
    for rel, digest in listed.items():
        path = root / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            problems.append(SumProblem(rel, "outside the report directory"))
        elif rel in links:
            continue
        elif not path.is_file():
            problems.append(SumProblem(rel, "missing"))
        elif sha256_file(path) != digest:
            problems.append(SumProblem(rel, "modified"))
    problems.extend(SumProblem(rel, "not listed (an extra file)") for rel in files if rel not in listed)
    result.checked = len(listed)
    if (root / "evidence" / SUMS_NAME).is_file():  # the coreutils-format file must agree as well
        reported = {p.path for p in problems}
        problems.extend(
            SumProblem(f"evidence/{p.path}", f"{p.problem} (evidence/{SUMS_NAME})")
            for p in verify_evidence_sums(root)
            if f"evidence/{p.path}" not in reported
        )
    _check_signature(root, manifest.read_bytes(), public_key, result)
    _check_rollup(root, result)
    return result


def _check_signature(root: Path, manifest: bytes, pinned, result: Verification) -> None:
    from harness.report.signing import fingerprint, public_key_from_pem, signature_valid

    signature_path, key_path = root / SIGNATURE_NAME, root / PUBLIC_KEY_NAME
    if not signature_path.is_file():
        if pinned is not None:
            result.problems.append(SumProblem(SIGNATURE_NAME, "missing (a signed report was expected)"))
        return
    shipped = public_key_from_pem(key_path.read_bytes()) if key_path.is_file() else None
    key = pinned or shipped
    if key is None:
        result.problems.append(SumProblem(PUBLIC_KEY_NAME, "missing or not an Ed25519 public key"))
        return
    if not signature_valid(key, manifest, signature_path.read_bytes()):
        who = "the pinned key" if pinned is not None else f"the key in {PUBLIC_KEY_NAME}"
        result.problems.append(SumProblem(SIGNATURE_NAME, f"does not verify with {who}"))
        return
    result.signature = (
        f"valid ({fingerprint(key)})" if pinned is not None else f"valid, key not pinned ({fingerprint(key)})"
    )


def _check_rollup(root: Path, result: Verification) -> None:
    from harness.errors import ConfigError
    from harness.report import load_runs
    from harness.results.consistency import pool_problems, rollup_problems

    try:
        runs = load_runs(root)
    except ConfigError as err:
        result.problems.append(SumProblem("results.json", f"unreadable: {err.problem}"))
        return
    for run in runs:
        prefix = f"{run.device.get('name', '')}: " if len(runs) > 1 else ""
        result.problems.extend(SumProblem("results.json", prefix + line) for line in rollup_problems(run))
    if len(runs) > 1:
        data = json.loads((root / "results.json").read_text(encoding="utf-8"))
        result.problems.extend(SumProblem("results.json", line) for line in pool_problems(data, runs))


def rendered_from(source_dir: Path, formats: list[str], version: str, when: str) -> str:
    """rendered-from.json: which results and which manifest a re-rendered folder derives from."""
    source = Path(source_dir)
    manifest = source / MANIFEST_NAME
    data = {
        "source": str(source.resolve()),
        "results_sha256": sha256_file(source / "results.json"),
        "source_manifest_sha256": sha256_file(manifest) if manifest.is_file() else None,
        "source_signed": (source / SIGNATURE_NAME).is_file(),
        "formats": formats,
        "rendered": when,
        "harness_version": version,
    }
    return json.dumps(data, indent=2) + "\n"
