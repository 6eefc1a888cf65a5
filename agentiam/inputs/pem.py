"""PEM certificate files: certificates only, each a well-formed X.509 structure, fingerprinted as openssl prints it.

A small strict DER reader rather than a cryptography library: what is needed is the structure (a certificate, not a
key or junk), the SHA-256 of the DER and the subject and expiry to show a reviewer, and importing a full X.509
stack cost every `validate`, `plan` and `diff` about 50 ms. Vault parses the certificate fully when it is applied;
the test suite compares this reader with `cryptography` on generated certificates.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Certificate:
    """One X.509 certificate of a PEM file, as reviewers compare it (`openssl x509 -noout -fingerprint -sha256`)."""

    subject: str  # RFC 4514
    sha256_fingerprint: str  # SHA-256 of the DER, upper-case hex pairs joined by `:` as openssl prints it
    not_after: str  # ISO 8601, UTC


_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.S)
_SEQUENCE, _SET, _INTEGER, _BIT_STRING, _OID, _UTC_TIME, _GENERALIZED_TIME = 0x30, 0x31, 0x02, 0x03, 0x06, 0x17, 0x18
_EXPLICIT_0 = 0xA0
# RFC 4514 short names (those `cryptography` prints too); any other attribute type is written as its dotted OID.
_NAMES = {"2.5.4.3": "CN", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.6": "C",
          "2.5.4.9": "STREET", "0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.1": "UID"}
_STRINGS = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii", 0x12: "ascii", 0x14: "latin-1", 0x1E: "utf-16-be",
            0x1C: "utf-32-be"}


def certificates(content: bytes) -> tuple[Certificate, ...]:
    """The certificates of a PEM file holding certificates only; ValueError saying what else it holds."""
    found: list[Certificate] = []
    end = 0
    for match in _BLOCK.finditer(content):
        if content[end:match.start()].strip():
            raise ValueError("holds text outside its PEM blocks; the file must hold PEM certificates only")
        end = match.end()
        label = match.group(1).decode()
        if label != "CERTIFICATE":  # a private key pasted here would be published in the plan and in Vault
            raise ValueError(f"holds a {label} block; the file must hold PEM certificates only")
        number = len(found) + 1
        try:
            der = base64.b64decode(b"".join(match.group(2).split()), validate=True)
            subject, not_after = _read_certificate(der)
        except (ValueError, binascii.Error) as exc:
            raise ValueError(f"certificate {number} is not a valid X.509 certificate ({exc})") from exc
        digest = hashlib.sha256(der).hexdigest().upper()
        found.append(Certificate(subject, ":".join(digest[i:i + 2] for i in range(0, 64, 2)), not_after))
    if content[end:].strip():
        raise ValueError("holds text outside its PEM blocks; the file must hold PEM certificates only")
    if not found:
        raise ValueError("holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    return tuple(found)


def _element(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at `pos`, which must end by `end` (definite lengths)."""
    if pos + 2 > end:
        raise ValueError("truncated")
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte tag")
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4 or pos + count > end:
            raise ValueError("bad length")  # 0: indefinite length, which DER forbids
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if pos + length > end:
        raise ValueError("truncated")
    return tag, pos, pos + length


def _elements(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    while start < end:
        out.append(_element(data, start, end))
        start = out[-1][2]
    return out


def _expect(element: tuple[int, int, int], tag: int, what: str) -> tuple[int, int, int]:
    if element[0] != tag:
        raise ValueError(f"{what} missing")
    return element


def _read_certificate(der: bytes) -> tuple[str, str]:
    """(subject, not-after) of a DER X.509 certificate: SEQUENCE {tbsCertificate, signatureAlgorithm, signature}."""
    tag, start, end = _element(der, 0, len(der))
    if tag != _SEQUENCE or end != len(der):
        raise ValueError("not a DER sequence")
    parts = _elements(der, start, end)
    if [p[0] for p in parts] != [_SEQUENCE, _SEQUENCE, _BIT_STRING]:
        raise ValueError("not a certificate (tbsCertificate, algorithm, signature)")
    tbs = _elements(der, parts[0][1], parts[0][2])
    fields = tbs[1:] if tbs and tbs[0][0] == _EXPLICIT_0 else tbs  # the version is optional (v1)
    if len(fields) < 6:
        raise ValueError("tbsCertificate too short")
    _expect(fields[0], _INTEGER, "serial number")
    for index, what in ((1, "signature algorithm"), (2, "issuer"), (3, "validity"), (4, "subject"),
                        (5, "public key")):
        _expect(fields[index], _SEQUENCE, what)
    validity = _elements(der, fields[3][1], fields[3][2])
    if len(validity) != 2:
        raise ValueError("validity is not two times")
    return _name(der, fields[4]), _time(der, validity[1])


def _time(der: bytes, element: tuple[int, int, int]) -> str:
    tag, start, end = element
    text = der[start:end].decode("ascii")
    if tag == _UTC_TIME and len(text) == 13:  # YYMMDDHHMMSSZ; RFC 5280: YY >= 50 is 19YY
        text = ("19" if int(text[:2]) >= 50 else "20") + text
    elif tag != _GENERALIZED_TIME or len(text) != 15:
        raise ValueError("not-after is not a UTC or generalized time")
    if not text.endswith("Z") or not text[:-1].isdigit():
        raise ValueError("not-after is not a UTC time")
    moment = dt.datetime.strptime(text[:-1], "%Y%m%d%H%M%S").replace(tzinfo=dt.timezone.utc)
    return moment.isoformat()


def _oid(body: bytes) -> str:
    if not body or body[-1] & 0x80:
        raise ValueError("bad object identifier")
    arcs, value = [], 0
    for byte in body:
        value = value << 7 | byte & 0x7F
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(map(str, [first, arcs[0] - 40 * first, *arcs[1:]]))


def _escaped(value: str) -> str:
    """An attribute value escaped as RFC 4514 section 2.4 asks."""
    out = re.sub(r'([\\,+"<>;])', r"\\\1", value).replace("\0", "\\00")
    if out[:1] in ("#", " "):
        out = "\\" + out
    if out.endswith(" ") and not out.endswith("\\ "):
        out = out[:-1] + "\\ "
    return out


def _name(der: bytes, element: tuple[int, int, int]) -> str:
    """An X.509 Name as RFC 4514 writes it: relative names last to first, `+` inside a multi-valued one."""
    rdns = []
    for rdn in _elements(der, element[1], element[2]):
        _expect(rdn, _SET, "relative name")
        values = []
        for pair in _elements(der, rdn[1], rdn[2]):
            _expect(pair, _SEQUENCE, "attribute")
            inner = _elements(der, pair[1], pair[2])
            if len(inner) != 2:
                raise ValueError("attribute is not a type and a value")
            oid = _oid(der[inner[0][1]:inner[0][2]]) if inner[0][0] == _OID else ""
            if not oid:
                raise ValueError("attribute type is not an object identifier")
            tag, start, end = inner[1]
            encoding = _STRINGS.get(tag)
            if encoding:
                text = _escaped(der[start:end].decode(encoding))
            else:  # RFC 4514: a value of another type is `#` and the hex of its whole DER element
                text = "#" + der[inner[0][2]:end].hex()
            values.append(f"{_NAMES.get(oid, oid)}={text}")
        rdns.append("+".join(values))
    return ",".join(reversed(rdns))

