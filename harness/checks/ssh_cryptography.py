"""EN 303 645 5.1-3 / 5.5-4: the cryptography protecting a network login (SSH) is best practice,
has no known feasible attack, and is what the maker declares.

Judged on what each SSH service offers on the wire (its KEXINIT) and on the host key behind each
host-key algorithm it really signs with. The policy, by security strength as in
harness.checks.update_cryptography (NIST SP 800-57 Part 1 Rev. 5 table 2, SP 800-131A Rev. 2:
at least 112 bits; no digest with published collision attacks in a signature):

- FAIL (a known feasible attack, or below 112 bits; TS 103 701 5.1-3-1c/1d): host-key signatures
  over SHA-1 (`ssh-rsa`, `ssh-dss`: chosen-prefix collisions since 2020, which is why OpenSSH 8.8
  disabled ssh-rsa), RSA/DSA host keys under 2048 bits; the key exchanges RFC 9142 (section 4)
  marks SHOULD NOT or MUST NOT (`diffie-hellman-group1-sha1` with its 1024-bit group,
  `diffie-hellman-group-exchange-sha1`, `rsa1024-sha1`, the GSS group1/gex SHA-1 ones); ciphers
  outside BSI TR-02102-4's recommendations with a published attack: `none`, arcfour (RC4
  keystream biases), DES/3DES, Blowfish, CAST-128 and IDEA (64-bit blocks: Sweet32, Bhargavan and
  Leurent 2016), and every CBC mode (SSH plaintext recovery, Albrecht, Paterson and Watson 2009);
  MACs `none`, HMAC-MD5 and the 64-bit tags (`umac-64`, `hmac-md5-96`).
- A weaker-but-not-broken note, not a FAIL: `diffie-hellman-group14-sha1` (RFC 9142: MAY, a
  2048-bit group; SHA-1 there derives keys and no attack on that use is known) and HMAC-SHA-1
  (SP 800-131A Rev. 2 table 9 still allows HMAC-SHA-1: HMAC relies on SHA-1's PRF property, not
  its collision resistance). They are named in the PASS reason and in the evidence.
- A host-key algorithm the server names but refuses to sign with (it closes the connection when
  a client picks it: dropbear 2022.83 names rsa-sha2-256 and ssh-rsa without an RSA key) yields no
  signature, so no attack: a note.
- An algorithm this table does not know, or a host key whose size was not learnt, is
  INCONCLUSIVE: what cannot be read is not judged good.

The declared cryptography (a profile's `network.services[*].cryptography`) is compared with what
the wire offers (TS 103 701 5.1-3-2a, 5.5-4-2c): any algorithm offered but not declared is a FAIL;
no declaration is INCONCLUSIVE naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from harness.checks.update_cryptography import BROKEN_DIGESTS, MINIMUM_BITS, modulus_strength
from harness.results.outcome import Measurement, Outcome

# Names in a KEXINIT that are signals, not algorithms (RFC 8308 ext-info, strict KEX, dropbear's guess).
PSEUDO_ALGORITHMS = frozenset({"ext-info-s", "ext-info-c", "kex-strict-s-v00@openssh.com",
                               "kex-strict-c-v00@openssh.com", "kexguess2@matt.ucc.asn.au"})  # fmt: skip

BROKEN_KEX = {
    "diffie-hellman-group1-sha1": "a 1024-bit group (80-bit security; RFC 9142: SHOULD NOT)",
    "diffie-hellman-group-exchange-sha1": "SHA-1 with server-chosen groups as small as 1024 bits (RFC 9142: SHOULD NOT)",
    "rsa1024-sha1": "a 1024-bit RSA key exchange (RFC 9142: MUST NOT)",
    "gss-group1-sha1-": "a 1024-bit GSS group (RFC 9142: SHOULD NOT)",
    "gss-gex-sha1-": "GSS group exchange over SHA-1 (RFC 9142: SHOULD NOT)",
}
WEAK_KEX = {
    "diffie-hellman-group14-sha1": "a 2048-bit group with SHA-1 key derivation (RFC 9142: MAY; move to group14-sha256)",
    "gss-group14-sha1-": "a 2048-bit GSS group with SHA-1 (RFC 9142: MAY)",
}
GOOD_KEX = frozenset({
    "curve25519-sha256", "curve25519-sha256@libssh.org", "curve448-sha512",
    "ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521",
    "diffie-hellman-group14-sha256", "diffie-hellman-group15-sha512", "diffie-hellman-group16-sha512",
    "diffie-hellman-group17-sha512", "diffie-hellman-group18-sha512", "diffie-hellman-group-exchange-sha256",
    "sntrup761x25519-sha512", "sntrup761x25519-sha512@openssh.com", "mlkem768x25519-sha256",
})  # fmt: skip

# Host-key algorithm -> (key family, digest its signatures use).
HOST_KEY_ALGORITHMS = {
    "ssh-ed25519": ("Ed25519", "sha512"), "ssh-ed448": ("Ed448", "sha512"),
    "ecdsa-sha2-nistp256": ("EC-256", "sha256"), "ecdsa-sha2-nistp384": ("EC-384", "sha384"),
    "ecdsa-sha2-nistp521": ("EC-521", "sha512"),
    "rsa-sha2-256": ("RSA", "sha256"), "rsa-sha2-512": ("RSA", "sha512"),
    "ssh-rsa": ("RSA", "sha1"), "ssh-dss": ("DSA", "sha1"),
    "sk-ssh-ed25519@openssh.com": ("Ed25519", "sha512"), "sk-ecdsa-sha2-nistp256@openssh.com": ("EC-256", "sha256"),
}  # fmt: skip
_FIXED_STRENGTH = {"Ed25519": 128, "Ed448": 224, "EC-256": 128, "EC-384": 192, "EC-521": 256}

BROKEN_CIPHERS = {
    "none": "no encryption",
    "arcfour": "RC4 (biased keystream)",
    "des": "DES (56-bit key)",
    "3des": "3DES (64-bit blocks: Sweet32)",
    "blowfish": "Blowfish (64-bit blocks)",
    "cast128": "CAST-128 (64-bit blocks)",
    "idea": "IDEA (64-bit blocks)",
    "-cbc": "CBC mode (SSH plaintext recovery, Albrecht et al. 2009)",
    "rijndael-cbc": "CBC mode (SSH plaintext recovery, Albrecht et al. 2009)",
}
GOOD_CIPHERS = frozenset({"chacha20-poly1305@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr",
                          "aes128-gcm@openssh.com", "aes256-gcm@openssh.com"})  # fmt: skip
BROKEN_MACS = {
    "none": "no integrity protection",
    "hmac-md5": "HMAC-MD5 (MD5)",
    "umac-64": "a 64-bit tag",
}
WEAK_MACS = {"hmac-sha1": "HMAC-SHA-1 (allowed by SP 800-131A; prefer hmac-sha2-256)",
             "hmac-sha1-96": "HMAC-SHA-1 with a 96-bit tag",
             "hmac-ripemd160": "HMAC-RIPEMD-160 (no known attack; dropped by OpenSSH 7.6)"}  # fmt: skip
GOOD_MACS = frozenset({"hmac-sha2-256", "hmac-sha2-512", "hmac-sha2-256-etm@openssh.com",
                       "hmac-sha2-512-etm@openssh.com", "umac-128@openssh.com", "umac-128-etm@openssh.com"})  # fmt: skip


@dataclass(frozen=True)
class HostKeyEvidence:
    """What one offered host-key algorithm gave: served (key type, size), refused, or error."""

    algorithm: str
    state: str
    bits: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class SshServiceEvidence:
    """One SSH service's offer as read on the wire (`error`: it could not be read)."""

    port: int
    kex: tuple[str, ...] = ()
    host_key: tuple[str, ...] = ()
    ciphers: tuple[str, ...] = ()
    macs: tuple[str, ...] = ()
    host_keys: tuple[HostKeyEvidence, ...] = ()
    error: str = ""

    def usable_host_keys(self) -> list[str]:
        """Offered host-key algorithms, but those the server refused to sign with."""
        refused = {key.algorithm for key in self.host_keys if key.state == "refused"}
        return [name for name in self.host_key if name not in refused]


@dataclass(frozen=True)
class DeclaredSshCryptography:
    """The algorithms a maker declares for one service (any of them may be offered, nothing else)."""

    kex: tuple[str, ...] = ()
    host_key: tuple[str, ...] = ()
    ciphers: tuple[str, ...] = ()
    macs: tuple[str, ...] = ()


def _lookup(table: Mapping[str, str], name: str) -> str | None:
    """The entry for `name`: exact, or a key ending in '-' that prefixes it, or one inside it ('-cbc', 'arcfour')."""
    if name in table:
        return table[name]
    for key, what in table.items():
        if name.startswith(key) or (key.startswith("-") and key in name):
            return what
    return None


@dataclass
class _Judgement:
    findings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    strengths: list[int] = field(default_factory=list)


def _judge_lists(where: str, service: SshServiceEvidence, out: _Judgement) -> None:
    for name in service.kex:
        if name in PSEUDO_ALGORITHMS:
            continue
        if (broken := _lookup(BROKEN_KEX, name)) is not None:
            out.findings.append(f"{where} offers key exchange {name}: {broken}")
        elif (weak := _lookup(WEAK_KEX, name)) is not None:
            out.notes.append(f"{where} offers key exchange {name}: {weak}")
        elif name not in GOOD_KEX:
            out.missing.append(f"{where} offers key exchange {name}, which this check cannot judge")
    for kind, names, broken_table, weak_table, good in (
        ("cipher", service.ciphers, BROKEN_CIPHERS, {}, GOOD_CIPHERS),
        ("MAC", service.macs, BROKEN_MACS, WEAK_MACS, GOOD_MACS),
    ):
        for name in names:
            if name in good:
                continue
            if (broken := _lookup(broken_table, name)) is not None:
                out.findings.append(f"{where} offers {kind} {name}: {broken}")
            elif (weak := _lookup(weak_table, name)) is not None:
                out.notes.append(f"{where} offers {kind} {name}: {weak}")
            else:
                out.missing.append(f"{where} offers {kind} {name}, which this check cannot judge")


def _judge_host_keys(where: str, service: SshServiceEvidence, out: _Judgement) -> None:
    keys = {key.algorithm: key for key in service.host_keys}
    weak_keys: dict[tuple[str, int], list[str]] = {}  # (key, strength) -> the algorithms signing with it
    for name in service.host_key:
        key = keys.get(name, HostKeyEvidence(name, "error", detail="not tried"))
        if key.state == "refused":
            out.notes.append(
                f"{where} names host-key algorithm {name} but closes the connection when a client picks it "
                "(no signature with it is ever made)"
            )
            continue
        family, digest = HOST_KEY_ALGORITHMS.get(name.removesuffix("-cert-v01@openssh.com"), ("", ""))
        if not family:
            out.missing.append(f"{where} offers host-key algorithm {name}, which this check cannot judge")
            continue
        if digest in BROKEN_DIGESTS:
            out.findings.append(
                f"{where} offers host-key algorithm {name}: its signatures use {BROKEN_DIGESTS[digest]}"
            )
        if key.state != "served":
            if digest not in BROKEN_DIGESTS:
                out.missing.append(f"{where}: the host key behind {name} was not learnt ({key.detail})")
            continue
        strength = _FIXED_STRENGTH.get(family)
        if strength is None:
            if not key.bits:
                out.missing.append(f"{where}: the size of the {family} host key behind {name} was not learnt")
                continue
            strength = modulus_strength(key.bits)
        out.strengths.append(strength)
        if strength < MINIMUM_BITS:
            weak_keys.setdefault((f"{family}-{key.bits}" if key.bits else family, strength), []).append(name)
    for (size, strength), names in weak_keys.items():
        out.findings.append(
            f"{where}: the {size} host key behind {', '.join(names)} gives {strength}-bit security, below the "
            f"{MINIMUM_BITS} bits SP 800-131A allows for signatures (a known feasible attack)"
        )


def judge_ssh_cryptography(services: Sequence[SshServiceEvidence]) -> Outcome:
    """FAIL on any offered algorithm or served host key with a known feasible attack or below
    112 bits; weaker-but-unbroken ones are notes; INCONCLUSIVE on what could not be read or judged."""
    out = _Judgement()
    judged = 0
    for service in services:
        where = f"SSH on tcp/{service.port}"
        if service.error:
            out.missing.append(f"{where}: its algorithms could not be read ({service.error})")
            continue
        if not service.kex:
            out.missing.append(f"{where} offered no key-exchange algorithm")
            continue
        judged += 1
        _judge_lists(where, service, out)
        _judge_host_keys(where, service, out)
    ports = ", ".join(f"tcp/{s.port}" for s in services)
    notes = f"; weaker but not broken: {'; '.join(out.notes)}" if out.notes else ""
    weakest = min(out.strengths) if out.strengths else None
    return Outcome.from_findings(
        out.findings,
        missing=out.missing,
        passed=f"SSH on {ports} offers only current key exchange, host keys, ciphers and MACs{notes}",
        judged=judged > 0,
        nothing_judged="no SSH service's algorithms could be read",
        measurements=(Measurement("weakest host key security strength", weakest, "bits", low=MINIMUM_BITS),),
        details={"notes": out.notes},
    )


def _offered(service: SshServiceEvidence) -> dict[str, list[str]]:
    return {
        "kex": [name for name in service.kex if name not in PSEUDO_ALGORITHMS],
        "host_key": service.usable_host_keys(),
        "ciphers": list(service.ciphers),
        "macs": list(service.macs),
    }


def judge_declared_ssh_cryptography(
    services: Sequence[SshServiceEvidence],
    declarations: Mapping[int, tuple[str, DeclaredSshCryptography | None]],
) -> Outcome:
    """FAIL when a service offers an algorithm its declaration does not list; INCONCLUSIVE (naming
    the profile field) when a service has no declaration or its offer could not be read.

    `declarations` maps a device port to (the profile field that declares it, the declaration)."""
    findings: list[str] = []
    missing: list[str] = []
    judged = 0
    for service in services:
        where = f"SSH on tcp/{service.port}"
        field_name, declared = declarations.get(
            service.port, ("network.services (an entry for this port)", None)
        )
        if declared is None:
            missing.append(f"{where}: no declared cryptography to compare with; declare it in {field_name}")
            continue
        if service.error:
            missing.append(f"{where}: its algorithms could not be read ({service.error})")
            continue
        judged += 1
        for list_name, names in _offered(service).items():
            allowed = set(getattr(declared, list_name))
            extra = [name for name in names if name not in allowed]
            if extra:
                findings.append(
                    f"{where} offers {list_name} {', '.join(extra)}, not declared in {field_name}.{list_name}"
                )
    ports = ", ".join(f"tcp/{s.port}" for s in services)
    return Outcome.from_findings(
        findings,
        missing=missing,
        passed=f"SSH on {ports} offers only the declared algorithms",
        judged=judged > 0,
        nothing_judged="no SSH service could be compared with a declaration",
    )
