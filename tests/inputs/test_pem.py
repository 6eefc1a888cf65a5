"""The PEM reader agrees with `cryptography` on what a certificate says, and any bytes give certificates or a
ValueError, never another exception."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from agentiam.inputs.pem import certificates

KEY = ec.generate_private_key(ec.SECP256R1())


def make(subject: x509.Name, not_after: dt.datetime, version_one: bool = False) -> x509.Certificate:
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(KEY.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)).not_valid_after(not_after))
    if not version_one:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return builder.sign(KEY, hashes.SHA256())


def attribute(oid: x509.ObjectIdentifier, value: str) -> x509.NameAttribute:
    return x509.NameAttribute(oid, value)


SUBJECTS = [
    x509.Name([attribute(NameOID.COMMON_NAME, "agents CA")]),
    x509.Name([attribute(NameOID.COUNTRY_NAME, "DE"), attribute(NameOID.ORGANIZATION_NAME, "Example, Inc."),
               attribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Platform+Security"),
               attribute(NameOID.COMMON_NAME, 'agents "prod" CA; <x> \\ #1')]),
    x509.Name([attribute(NameOID.COMMON_NAME, "#leading hash"), attribute(NameOID.EMAIL_ADDRESS, "ca@example.com"),
               attribute(NameOID.DOMAIN_COMPONENT, "example"), attribute(NameOID.LOCALITY_NAME, "Zürich ünïcode"),
               attribute(NameOID.STATE_OR_PROVINCE_NAME, "Bayern"), attribute(NameOID.USER_ID, "u1")]),
    x509.Name([x509.RelativeDistinguishedName([attribute(NameOID.COMMON_NAME, "multi"),
                                               attribute(NameOID.SERIAL_NUMBER, "42")])]),
    x509.Name([attribute(x509.ObjectIdentifier("1.2.3.4.99999"), "x" * 200)]),  # unknown type, long-form lengths
    x509.Name([]),
]


@pytest.mark.parametrize("subject", SUBJECTS, ids=range(len(SUBJECTS)))
@pytest.mark.parametrize("not_after", [dt.datetime(2036, 11, 26, 8, 30, 24, tzinfo=dt.timezone.utc),  # UTCTime
                                       dt.datetime(2051, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)])  # GeneralizedTime
def test_subject_expiry_and_fingerprint_are_what_cryptography_reads(subject: x509.Name, not_after) -> None:
    cert = make(subject, not_after)
    (read,) = certificates(cert.public_bytes(serialization.Encoding.PEM))
    assert read.subject == cert.subject.rfc4514_string()
    assert read.not_after == cert.not_valid_after_utc.isoformat()
    assert read.sha256_fingerprint.replace(":", "") == cert.fingerprint(hashes.SHA256()).hex().upper()


def test_a_version_1_certificate_without_extensions_is_read() -> None:
    cert = make(SUBJECTS[0], dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc), version_one=True)
    assert certificates(cert.public_bytes(serialization.Encoding.PEM))[0].subject == "CN=agents CA"


def test_a_key_or_a_certificate_request_is_not_a_certificate() -> None:
    key_der = KEY.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    block = (b"-----BEGIN CERTIFICATE-----\n" + __import__("base64").encodebytes(key_der)
             + b"-----END CERTIFICATE-----\n")
    with pytest.raises(ValueError, match="certificate 1 is not a valid X.509 certificate"):
        certificates(block)


PEM = make(SUBJECTS[1], dt.datetime(2036, 1, 1, tzinfo=dt.timezone.utc)).public_bytes(serialization.Encoding.DER)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_damaged_certificate_is_a_value_error_never_a_crash(data: st.DataObject) -> None:
    der = bytearray(PEM)
    for _ in range(data.draw(st.integers(1, 4))):
        der[data.draw(st.integers(0, len(der) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(der)))
    block = (b"-----BEGIN CERTIFICATE-----\n" + __import__("base64").encodebytes(bytes(der[:cut]))
             + b"-----END CERTIFICATE-----\n")
    with contextlib.suppress(ValueError):
        certificates(block)
