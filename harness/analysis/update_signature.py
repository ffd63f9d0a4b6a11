"""What an update package's signatures are made of: digest, signature algorithm, signer key.

Format-neutral: every DER CMS SignedData in the package is found by its content type (SWUpdate's
sw-description.sig, a RAUC bundle's appended CMS, a signature file inside any archive) and read
with pycrate's CMS module (the SignerInfo's algorithms) and cryptography's X.509 (the signer's
key and its certificate's own signature). A package whose signatures are not CMS yields none,
which the check reports as INCONCLUSIVE. The package is the maker's, so untrusted: the number of
signatures read and the bytes looked at are bounded, and a structure that does not parse is
skipped, never raised.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from pycrate_asn1dir import CMS2004

from harness.analysis.der import der_element

SIGNED_DATA_OID = bytes.fromhex("06092a864886f70d010702")  # 1.2.840.113549.1.7.2, DER-encoded
MAX_SIGNATURES = 8
MAX_CANDIDATES = 64  # places that look like a SignedData; a package full of them is not searched on
MAX_SIGNATURE_BYTES = 1 << 20  # a CMS signature with its certificates is a few kilobytes

# Algorithm identifiers (RFC 5754, 8017, 5758, 8410, 3279) by dotted OID: their usual names.
ALGORITHMS = {
    "1.2.840.113549.2.5": "md5",
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.4": "sha224",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
    "2.16.840.1.101.3.4.2.8": "sha3-256",
    "2.16.840.1.101.3.4.2.9": "sha3-384",
    "2.16.840.1.101.3.4.2.10": "sha3-512",
    "1.2.840.113549.1.1.1": "rsaEncryption",
    "1.2.840.113549.1.1.4": "md5WithRSAEncryption",
    "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
    "1.2.840.113549.1.1.10": "rsassa-pss",
    "1.2.840.113549.1.1.11": "sha256WithRSAEncryption",
    "1.2.840.113549.1.1.12": "sha384WithRSAEncryption",
    "1.2.840.113549.1.1.13": "sha512WithRSAEncryption",
    "1.2.840.10045.4.1": "ecdsa-with-SHA1",
    "1.2.840.10045.4.3.2": "ecdsa-with-SHA256",
    "1.2.840.10045.4.3.3": "ecdsa-with-SHA384",
    "1.2.840.10045.4.3.4": "ecdsa-with-SHA512",
    "1.2.840.10040.4.1": "dsa",
    "1.2.840.10040.4.3": "dsa-with-sha1",
    "1.3.101.112": "ed25519",
    "1.3.101.113": "ed448",
}


@dataclass(frozen=True)
class SignatureFacts:
    """One CMS signature in a package, as its bytes say."""

    offset: int
    digest: str  # the SignerInfo's digest algorithm ("sha256")
    signature: str  # the SignerInfo's signature algorithm ("ecdsa-with-SHA256", "rsaEncryption")
    key_type: str  # the signer certificate's key: "RSA", "EC", "DSA", "Ed25519", "Ed448", "unknown"
    key_bits: int | None
    curve: str | None
    certificate_digest: str | None  # the hash the signer's certificate itself is signed with
    signer: str  # the signer certificate's subject, for the evidence

    def describe(self) -> str:
        key = f"{self.key_type}-{self.key_bits}" if self.key_bits else self.key_type
        if self.curve:
            key += f" ({self.curve})"
        return f"{self.signature} over {self.digest} with a {key} key (certificate hashed with {self.certificate_digest})"


def _name(oid: object) -> str:
    dotted = ".".join(str(part) for part in oid) if isinstance(oid, tuple) else str(oid)
    return ALGORITHMS.get(dotted, dotted)


def _content_info_at(data: bytes, oid_at: int) -> tuple[int, bytes] | None:
    """The ContentInfo SEQUENCE whose contentType starts at `oid_at`: (its offset, its bytes)."""
    for start in range(oid_at - 2, oid_at - 7, -1):  # 30 LL, 30 81 LL, 30 82 LL LL, ... before it
        element = der_element(data, start, max_length_octets=4)
        if element is None or element[0] != 0x30 or element[1] != oid_at:
            continue
        if element[2] - element[1] <= MAX_SIGNATURE_BYTES:
            return start, data[start : element[2]]
    return None


def _signed_data(content_info: bytes) -> dict | None:
    module = CMS2004.CryptographicMessageSyntax2004
    outer = module.ContentInfo
    try:
        outer.from_der(content_info)
        content = outer.get_val()["content"]
        # The open type keeps the SignedData SEQUENCE's contents; decode them as a SignedData.
        inner = content[1] if isinstance(content, tuple) else content
        header = len(inner).to_bytes(4, "big")
        signed = module.SignedData
        signed.from_der(b"\x30\x84" + header + inner)
        return signed.get_val()
    except Exception:  # noqa: BLE001 - the maker's bytes: a structure that does not parse is skipped
        return None


def _certificate_digest(certificate: x509.Certificate) -> str | None:
    try:
        algorithm = certificate.signature_hash_algorithm
    except Exception:  # noqa: BLE001 - an unsupported algorithm is reported by name below
        return _name(certificate.signature_algorithm_oid.dotted_string)
    return (
        algorithm.name if algorithm is not None else _name(certificate.signature_algorithm_oid.dotted_string)
    )


def _key(certificate: x509.Certificate) -> tuple[str, int | None, str | None]:
    try:
        key = certificate.public_key()
    except Exception:  # noqa: BLE001
        return "unknown", None, None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.key_size, key.curve.name
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, None
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256, None
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456, None
    return type(key).__name__, None, None


def _certificates(der: bytes) -> list[x509.Certificate]:
    try:
        return pkcs7.load_der_pkcs7_certificates(der)
    except Exception:  # noqa: BLE001 - the maker's bytes
        return []


def _signer_certificate(certificates: list[x509.Certificate], serial: int | None) -> x509.Certificate | None:
    """The certificate with the signer's serial number, else the first that is not a CA."""
    for certificate in certificates:
        if serial is not None and certificate.serial_number == serial:
            return certificate
    leaves = [c for c in certificates if not _is_ca(c)]
    return (leaves or certificates or [None])[0]


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _serial(signer_info: dict) -> int | None:
    sid = signer_info.get("sid")
    if isinstance(sid, tuple) and sid[0] == "issuerAndSerialNumber":
        number = sid[1].get("serialNumber")
        return number if isinstance(number, int) else None
    return None


def read_signatures(package: bytes) -> list[SignatureFacts]:
    """Every CMS signature found in `package` (at most MAX_SIGNATURES), first one first."""
    found: list[SignatureFacts] = []
    at = package.find(SIGNED_DATA_OID)
    candidates = 0
    while at != -1 and len(found) < MAX_SIGNATURES and candidates < MAX_CANDIDATES:
        candidates += 1
        located = _content_info_at(package, at)
        signed = _signed_data(located[1]) if located else None
        if located and signed:
            certificates = _certificates(located[1])
            for signer_info in signed.get("signerInfos", [])[:MAX_SIGNATURES]:
                certificate = _signer_certificate(certificates, _serial(signer_info))
                key_type, bits, curve = _key(certificate) if certificate else ("unknown", None, None)
                found.append(
                    SignatureFacts(
                        offset=located[0],
                        digest=_name(signer_info["digestAlgorithm"]["algorithm"]),
                        signature=_name(signer_info["signatureAlgorithm"]["algorithm"]),
                        key_type=key_type,
                        key_bits=bits,
                        curve=curve,
                        certificate_digest=_certificate_digest(certificate) if certificate else None,
                        signer=certificate.subject.rfc4514_string()[:200]
                        if certificate
                        else "no certificate",
                    )
                )
        at = package.find(SIGNED_DATA_OID, at + len(SIGNED_DATA_OID))
    return found[:MAX_SIGNATURES]
