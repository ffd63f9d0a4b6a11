"""`hilsec`: run the suites, build the reference firmware, show the catalog, check files, re-render.

A user mistake prints one line and exits 2; tracebacks are for harness bugs only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from harness import __version__
from harness.errors import ConfigError, HarnessSetupError
from harness.requirements.catalog import SCHEMES
from harness.suites import rootdir_for, suite_dirs
from harness.util.files import write_atomically

EXIT_USAGE = 2
REPORT_FORMATS = ("html", "csv", "json", "junit", "oscal")


def _weakness_names() -> list[str]:
    from harness.emulation.variants import WEAKNESSES

    return sorted(WEAKNESSES)


def _hardening_names() -> list[str]:
    from harness.emulation.variants import HARDENINGS

    return sorted(HARDENINGS)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hilsec",
        description="Hardware-in-the-loop security tests for cellular-connected devices "
        "(GSMA FS.25 software security updates, GSMA FS.38 device controls).",
    )
    parser.add_argument("--version", action="version", version=f"hilsec {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the security suites against a device and write a report")
    run.add_argument("--device-profile", required=True, metavar="FILE", help="device profile (YAML)")
    run.add_argument("--lab-config", metavar="FILE", help="lab configuration (YAML)")
    run.add_argument("--report-dir", metavar="DIR", help="report directory (default reports/NAME-TIME)")
    run.add_argument(
        "--suites",
        metavar="DIR",
        type=Path,
        action="append",
        help="a lab's own suites, run beside the built-in ones (repeatable)",
    )
    run.add_argument(
        "--no-builtin-suites", action="store_true", help="run only the --suites folders, not hilsec's own"
    )
    run.add_argument("pytest_args", nargs="*", metavar="-- PYTEST_ARGS", help="passed on to pytest")

    image = sub.add_parser("image", help="the reference firmware for emulated runs")
    image_sub = image.add_subparsers(dest="image_command", required=True, metavar="ACTION")
    build = image_sub.add_parser("build", help="build (or take from the cache) a reference firmware image")
    build.add_argument("--variant", choices=("hardened", "vulnerable"), default="hardened")
    build.add_argument(
        "--weakness",
        metavar="KNOB[,KNOB...]",
        help="build with exactly these weaknesses instead of the variant's: " + ", ".join(_weakness_names()),
    )
    build.add_argument(
        "--hardening",
        metavar="KNOB[,KNOB...]",
        help="add these hardening knobs (protections, not weaknesses): " + ", ".join(_hardening_names()),
    )
    build.add_argument("--out", metavar="DIR", type=Path, help="also copy kernel and initrd here")
    build.add_argument(
        "--cache-dir", metavar="DIR", type=Path, help="image cache (default ~/.cache/hilsec/images)"
    )

    packages = image_sub.add_parser(
        "packages",
        help="the update packages a maker hands a lab, for a reference image: a valid newer one and an "
        "older one, signed with the image's key, and the profile's updates: section naming them",
    )
    packages.add_argument("--variant", choices=("hardened", "vulnerable"), default="hardened")
    packages.add_argument(
        "--weakness", metavar="KNOB[,KNOB...]", help="the image with exactly these weaknesses"
    )
    packages.add_argument(
        "--out", metavar="DIR", type=Path, required=True, help="where the packages are written"
    )
    packages.add_argument(
        "--cache-dir", metavar="DIR", type=Path, help="image cache (default ~/.cache/hilsec/images)"
    )

    prepare = image_sub.add_parser(
        "prepare",
        help="fetch everything the suites boot besides the device (OVMF, shim, GRUB, a signed kernel) into "
        "the cache and check the host's U-Boot tools, so that no run needs the internet",
    )
    prepare.add_argument(
        "--cache-dir", metavar="DIR", type=Path, help="image cache (default ~/.cache/hilsec/images)"
    )

    reqs = sub.add_parser("requirements", help="the requirement catalog and the tests covering each ID")
    reqs.add_argument(
        "--scheme",
        choices=SCHEMES,
        help="show the catalog through a scheme: its provisions (or TS 103 701 test units), each with only "
        "the tests whose marker names it; ts103701 also prints the automated share",
    )
    reqs.add_argument(
        "--suites",
        metavar="DIR",
        type=Path,
        action="append",
        help="a lab's own suites, counted beside the built-in ones (repeatable)",
    )

    validate = sub.add_parser(
        "validate", help="check device profiles and lab configs without running anything"
    )
    validate.add_argument("files", nargs="+", metavar="FILE", type=Path)

    sub.add_parser("devices", help="attached serial ports and USB devices, debug interfaces flagged")

    report = sub.add_parser(
        "report",
        help="re-render a report directory from its results.json, verify its hashes and signature, or diff two runs",
        description="hilsec report DIR [--format F ...] [--out NEW]   re-render DIR's reports from its "
        "results.json (into NEW when DIR is sealed by its SHA256SUMS)\n"
        "hilsec report diff OLD NEW [--html FILE]   requirement verdicts that changed between two runs\n"
        "hilsec report verify DIR [--public-key FILE]   recompute every hash, check the signature and "
        "the roll-up",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("targets", nargs="+", metavar="DIR | diff OLD NEW")
    report.add_argument(
        "--format",
        dest="formats",
        action="append",
        choices=REPORT_FORMATS,
        help="format to re-render (repeatable; default all)",
    )
    report.add_argument("--html", metavar="FILE", type=Path, help="with diff: also write the changes as HTML")
    report.add_argument(
        "--out",
        metavar="NEW",
        type=Path,
        help="re-render into this new folder (a sealed DIR stays untouched)",
    )
    report.add_argument(
        "--signing-key",
        metavar="FILE",
        type=Path,
        help="with --out: sign the new folder's manifest (Ed25519 PEM)",
    )
    report.add_argument(
        "--public-key", metavar="FILE", type=Path, help="with verify: the key the report must be signed by"
    )
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    import pytest

    from harness.config import load_lab_config, load_profile
    from harness.plugin.progress import RunProgress

    profile = load_profile(args.device_profile)
    if args.lab_config:
        load_lab_config(args.lab_config)
    folders = suite_dirs(args.suites, builtin=not args.no_builtin_suites)
    report_dir = args.report_dir or f"reports/{profile.name}-{dt.datetime.now():%Y%m%d-%H%M%S}"
    argv = [*map(str, folders), f"--rootdir={rootdir_for(folders)}"]
    argv += ["--device-profile", str(args.device_profile), "--report-dir", str(report_dir)]
    if args.lab_config:
        argv += ["--lab-config", str(args.lab_config)]
    argv += ["-q", "-p", "no:cacheprovider", *args.pytest_args]
    print(f"hilsec {__version__}: {profile.name} ({profile.model}, firmware {profile.firmware_version})")
    return int(pytest.main(argv, plugins=[RunProgress(profile.name)]))


def _chosen_weaknesses(args: argparse.Namespace) -> set[str] | None:
    weaknesses = None
    if args.weakness is not None:
        weaknesses = {name.strip() for name in args.weakness.split(",") if name.strip()}
        unknown = sorted(weaknesses - set(_weakness_names()))
        if unknown:
            raise ConfigError(
                "--weakness", "", f"unknown weakness {', '.join(unknown)}", ", ".join(_weakness_names())
            )
    return weaknesses


def cmd_image_build(args: argparse.Namespace) -> int:
    from harness.emulation import build_image

    if args.image_command == "packages":
        return cmd_image_packages(args)
    if args.image_command == "prepare":
        return cmd_image_prepare(args)
    weaknesses = _chosen_weaknesses(args)
    hardenings = None
    if args.hardening is not None:
        hardenings = {name.strip() for name in args.hardening.split(",") if name.strip()}
        unknown = sorted(hardenings - set(_hardening_names()))
        if unknown:
            raise ConfigError(
                "--hardening", "", f"unknown hardening {', '.join(unknown)}", ", ".join(_hardening_names())
            )
    image = build_image(
        args.variant,
        cache_dir=args.cache_dir,
        progress=lambda line: print(f"[image] {line}"),
        weaknesses=weaknesses,
        hardenings=hardenings,
    )
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for path in (image.kernel, image.initrd):
            shutil.copyfile(path, args.out / path.name)
        (args.out / "cmdline").write_text(image.append + "\n")
    print(
        f"variant:  {image.variant}\nkernel:   {image.kernel}\ninitrd:   {image.initrd}\ndigest:   {image.digest}"
    )
    return 0


def cmd_image_prepare(args: argparse.Namespace) -> int:
    from harness.secureboot.components import prepare_components
    from harness.secureboot.uboot import missing_uboot_tools

    components = prepare_components(args.cache_dir)
    print(f"secure boot chain: {', '.join(components.packages)}\n  unpacked in {components.root}")
    missing = missing_uboot_tools()
    if missing:
        print(
            "U-Boot tools missing (apt-get install qemu-system-arm u-boot-qemu u-boot-tools): "
            + ", ".join(missing)
        )
        return 1
    print("U-Boot: qemu_arm64 build, qemu-system-aarch64, mkenvimage and mkimage present")
    return 0


def cmd_image_packages(args: argparse.Namespace) -> int:
    import yaml

    from harness.emulation import build_image
    from harness.updates.maker import reference_packages

    image = build_image(
        args.variant,
        cache_dir=args.cache_dir,
        progress=lambda line: print(f"[image] {line}"),
        weaknesses=_chosen_weaknesses(args),
    )
    made = reference_packages(image, args.out.resolve())
    print(f"# for the profile of {image.variant} (image {image.digest[:12]}):")
    print(yaml.safe_dump({"updates": made.profile_section()}, sort_keys=False), end="")
    return 0


def cmd_requirements(args: argparse.Namespace) -> int:
    from harness.requirements import collect_coverage, format_catalog, load_catalog
    from harness.requirements.coverage import Coverage

    coverage = Coverage()  # keeps which tests are conceptual, for the standards views
    for folder in suite_dirs(args.suites):
        found = collect_coverage(folder)
        coverage.conceptual |= found.conceptual
        for req_id, nodeids in found.items():
            coverage.setdefault(req_id, []).extend(nodeids)
    print(format_catalog(load_catalog(), coverage, args.scheme))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from harness.config import validate_files

    errors = validate_files(args.files)
    for line in errors:
        print(line, file=sys.stderr)
    if errors:
        return EXIT_USAGE
    from harness.util.text import one_line

    for path in args.files:
        print(one_line(f"{path}: ok"))
    return 0


def cmd_devices(args: argparse.Namespace) -> int:
    from harness.drivers.usb import format_devices

    print(format_devices())
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from harness.report import rerender

    targets = args.targets
    if targets[0] == "diff":
        return _report_diff(targets[1:], args.html)
    if targets[0] == "verify":
        return _report_verify(targets[1:], args.public_key)
    if len(targets) != 1:
        raise ConfigError(
            "hilsec report", "DIR", f"got {len(targets)} arguments", "one report directory, or diff OLD NEW"
        )
    signing_key = None
    if args.signing_key is not None:
        from harness.report.signing import load_signing_key

        signing_key = load_signing_key(args.signing_key, "--signing-key")
    formats = tuple(args.formats or REPORT_FORMATS)
    for path in rerender(Path(targets[0]), formats, out=args.out, signing_key=signing_key):
        print(path)
    return 0


def _report_verify(dirs: list[str], public_key_path: Path | None) -> int:
    """Exit 0 when every file, the signature and the roll-up check out; 1 with one line per problem."""
    from harness.report.manifest import verify_report
    from harness.report.signing import load_public_key

    if len(dirs) != 1:
        raise ConfigError("hilsec report verify", "DIR", f"got {len(dirs)} arguments", "one report directory")
    if not Path(dirs[0]).is_dir():
        raise ConfigError(dirs[0], "", "is not a directory", "a report directory")
    pinned = load_public_key(public_key_path) if public_key_path is not None else None
    result = verify_report(Path(dirs[0]), pinned)
    from harness.util.text import one_line

    for line in result.lines():  # file names in a tampered directory can hold anything
        print(one_line(line), file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1


def _report_diff(runs: list[str], html: Path | None) -> int:
    """Print which requirement verdicts changed; exit 1 when any got worse (a firmware regression)."""
    from harness.report.diff import diff_runs

    if len(runs) != 2:
        raise ConfigError("hilsec report diff", "OLD NEW", f"got {len(runs)} runs", "two report directories")
    changes = diff_runs(Path(runs[0]), Path(runs[1]))
    print(changes.to_text())
    if html is not None:
        write_atomically(html, changes.to_html())
        print(f"html: {html}")
    return 1 if changes.regressions else 0


COMMANDS = {
    "run": cmd_run,
    "image": cmd_image_build,
    "requirements": cmd_requirements,
    "validate": cmd_validate,
    "devices": cmd_devices,
    "report": cmd_report,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as err:
        print(f"hilsec: {err}", file=sys.stderr)
        return EXIT_USAGE
    except HarnessSetupError as err:
        print(f"hilsec: lab setup failed: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
