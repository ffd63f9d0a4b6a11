"""FS38-01 decisions: no login the device offers accepts a well-known default credential.

The suite tries every credential of the shipped default list on the console and on each network
login service (declared, or found answering on any port) and hands in what was accepted; it also
ends a test INCONCLUSIVE itself while gathering, when a refusal cannot count (the lab's own login
refused, a service gone). What is decided here is what the gathered attempts show.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.results.outcome import Outcome


def default_entry(defaults: Sequence[tuple[str, str]], pair: tuple[str, str]) -> str:
    """The credential and where it sits in the shipped list, for a finding."""
    return f"{pair[0]}:{pair[1]} (entry {defaults.index(pair) + 1} of the shipped default list)"


def judge_lab_credential(username: str, password: str, defaults: Sequence[tuple[str, str]]) -> Outcome:
    """FAIL when the credential the lab was given is itself on the public list of defaults."""
    pair = (username, password)
    if pair in defaults:
        return Outcome.failed(
            [
                f"the device's credential for {username} is a well-known default: {default_entry(defaults, pair)}"
            ]
        )
    return Outcome.passed(
        f"the lab's credential for {username} is none of the {len(defaults)} shipped defaults"
    )


def judge_console_logins(accepted: Sequence[str], tried: int) -> Outcome:
    """FAIL naming each default the console accepted (`accepted`: default_entry() texts)."""
    if accepted:
        return Outcome.failed(
            accepted, "console accepted well-known default credential(s): " + ", ".join(accepted)
        )
    return Outcome.passed(
        f"the console refused all {tried} well-known default credential(s), each tried while the lab's own login worked"
    )


def judge_network_logins(
    kind: str,
    accepted: Sequence[str],
    ports: Sequence[int],
    *,
    inventory_available: bool,
    inventory_problem: str = "",
) -> Outcome:
    """FAIL naming each service that accepted a default; INCONCLUSIVE when the lab could not
    enumerate the device's services (why: `inventory_problem`), so only the declared or standard
    port was tried; else PASS."""
    if accepted:
        return Outcome.failed(accepted)
    if not inventory_available:
        return Outcome.inconclusive(
            f"only the {kind} port the profile declares or the standard one was tried: the lab could not "
            f"enumerate the device's other services ({inventory_problem})",
            [f"an inventory of the device's services ({inventory_problem})"],
        )
    where = ", ".join(str(port) for port in ports) or "none"
    return Outcome.passed(f"no {kind} login accepted a well-known default credential (ports tried: {where})")


def judge_open_doors(open_doors: Sequence[str]) -> Outcome:
    """FAIL naming each network service that gives a shell (or adb) without asking for a credential."""
    if open_doors:
        return Outcome.failed(
            open_doors, "network services that ask for no credential: " + "; ".join(open_doors)
        )
    return Outcome.passed("no network service gives a shell or adb without a credential")
