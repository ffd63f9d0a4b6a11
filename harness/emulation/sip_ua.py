"""The reference device's SIP user agent (SIPp from Debian's sip-tester) and its two weaknesses.

Every variant registers to the lab's registrar (kamailio) with digest authentication; the account
password is provisioned by the lab on the kernel command line (`hilsec.sip_password`), never
stored in the image. The hardened UA uses a pseudonymous SIP account and no device identifiers in
its headers, has no SIP listener of its own (calls would come over its registration flow), and
signals over TLS: Debian's SIPp has no TLS transport, so it speaks SIP over TCP to a loopback-only
socat that carries it over TLS to the registrar, trusting only the lab certificate whose SHA-256
is pinned on the kernel command line (`hilsec.sip_tls_sha256`). The knobs:
- `sip-identity-exposed`: the UA registers with its IMSI as SIP user name and puts the IMEI into
  `User-Agent` and `+sip.instance` (RFC 7254 `urn:gsma:imei`), all in plaintext UDP. The knob
  therefore also fails FS38-04 (plaintext application payload to the registrar's UDP port): a true,
  overlapping finding, since a UA that exposes its identity in clear signals in clear.
- `sip-direct-invite-accepted`: a SIP listener on TCP 5060 answers any INVITE sent straight to it,
  around the registrar, with 180 Ringing and 200 OK.
"""

from __future__ import annotations

IMSI = "001010123456789"  # test PLMN 001-01: not a real subscriber
SIP_DOMAIN = "lab.hilsec.test"
PSEUDONYMOUS_SIP_USER = "node-7f3a"
SIP_LISTEN_PORT = 5060
SIP_REGISTER_INTERVAL_S = 20
# Loopback only: where SIPp hands its SIP-over-TCP to socat, which carries it over TLS.
SIP_TLS_WRAPPER_PORT = 5062

SIP_WEAKNESSES: dict[str, str] = {
    "sip-identity-exposed": "the SIP UA registers with its IMSI as user name and sends its IMEI in "
    "User-Agent and +sip.instance, in plaintext UDP (so FS38-04 fails too)",
    "sip-direct-invite-accepted": f"a SIP listener on TCP {SIP_LISTEN_PORT} accepts INVITEs sent straight "
    "to it, bypassing the registrar",
}

# SIPp, socat (the TLS wrapper) and every package their libraries come from (the builder
# resolves the files from the ELF).
SIP_UA_PACKAGES = (
    "sip-tester",
    "libncursesw6",
    "libtinfo6",
    "libgsl27",
    "libgslcblas0",
    "libpcap0.8",
    "libsctp1",
    "libstdc++6",
    "libgcc-s1",
    "libdbus-1-3",
    "libsystemd0",
    "libcap2",
    "libgcrypt20",
    "liblzma5",
    "libzstd1",
    "liblz4-1",
    "libgpg-error0",
    "socat",
    "libwrap0",
    "libssl3",
    "libnsl2",
    "libtirpc3",
    "libgssapi-krb5-2",
    "libkrb5-3",
    "libk5crypto3",
    "libcom-err2",
    "libkrb5support0",
    "libkeyutils1",
)
SIP_UA_BINARIES = ("usr/bin/sipp", "usr/bin/socat")


def imei_urn(imei: str) -> str:
    """RFC 7254's form: urn:gsma:imei:TAC(8)-SNR(6)-check digit."""
    return f"urn:gsma:imei:{imei[:8]}-{imei[8:14]}-{imei[14:]}"


def sip_device_config(weaknesses: frozenset[str], imei: str) -> dict[str, str]:
    """device.conf variables read by /usr/sbin/hilsec-sip-ua."""
    exposed = "sip-identity-exposed" in weaknesses
    return {
        "IMSI": IMSI,
        "SIP_DOMAIN": SIP_DOMAIN,
        "SIP_USER": IMSI if exposed else PSEUDONYMOUS_SIP_USER,
        "SIP_USER_AGENT": f"hilsec-node/1.0 IMEI/{imei}" if exposed else "hilsec-node/1.0",
        "SIP_INSTANCE": imei_urn(imei) if exposed else "urn:uuid:5f0c6e1a-3b7d-4c2e-9a41-7d2b8e6f1c03",
        "SIP_REGISTER_INTERVAL": str(SIP_REGISTER_INTERVAL_S),
        "SIP_LISTEN_PORT": str(SIP_LISTEN_PORT) if "sip-direct-invite-accepted" in weaknesses else "",
        # The exposed identity goes with plaintext signalling; everything else signals over TLS.
        "SIP_TRANSPORT": "udp" if exposed else "tls",
        "SIP_TLS_WRAPPER_PORT": str(SIP_TLS_WRAPPER_PORT),
    }
