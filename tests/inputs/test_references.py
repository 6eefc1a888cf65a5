"""Referenced files: declared on the stack-config model, read through the reader, checked as PEM certificates,
fingerprinted as openssl prints them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel

from agentiam.environment.model import EnvironmentConfig
from agentiam.inputs.files import DiskTree
from agentiam.inputs.references import (FORMATS, FileReference, Referencing, read_references,
                                        referenced_fields)
from tests.integration.pki import TestCA

PEM = FORMATS["pem-certificates"]


@pytest.fixture
def ca(tmp_path: Path) -> TestCA:
    return TestCA(tmp_path / "pki", "unit agents CA")


def test_the_agent_ca_is_the_only_reference_of_a_stack_config_today() -> None:
    assert referenced_fields(EnvironmentConfig) == (
        (("vault", "agent_ca_pem_file"), FileReference("pem-certificates")),)


def test_a_field_added_later_with_the_marker_is_read_the_same_way(tmp_path: Path, ca: TestCA) -> None:
    class Inner(BaseModel):
        bundle: Annotated[str, FileReference("pem-certificates")]

    class Config(BaseModel):
        name: str
        inner: Inner | None = None
        top: Annotated[str, FileReference("pem-certificates")]

    assert referenced_fields(Config) == ((("inner", "bundle"), FileReference("pem-certificates")),
                                         (("top",), FileReference("pem-certificates")))
    config = Config(name="x", inner=Inner(bundle="pki/unit-agents-CA-ca.pem"), top="pki/missing.pem")
    located: list[tuple[tuple[str, ...], str]] = []
    [(read, findings)] = read_references(
        [Referencing(config, lambda path, message: located.append((path, message)) or message)],  # type: ignore[arg-type, func-returns-value]
        DiskTree(tmp_path, prefix=""))
    assert list(read) == ["inner.bundle"] and read["inner.bundle"].content == ca.pem_path.read_bytes()
    assert located == [(("top",), "cannot read pki/missing.pem: No such file or directory")]


def test_certificates_are_fingerprinted_as_openssl_prints_them(ca: TestCA) -> None:
    (cert,) = PEM(ca.pem_path.read_bytes())
    expected = ca.cert.fingerprint(hashes.SHA256()).hex().upper()
    assert cert.sha256_fingerprint == ":".join(expected[i:i + 2] for i in range(0, 64, 2))
    assert cert.subject == "CN=unit agents CA" and cert.not_after == ca.cert.not_valid_after_utc.isoformat()


def test_a_bundle_of_two_and_crlf_line_ends_are_fine(tmp_path: Path, ca: TestCA) -> None:
    other = TestCA(tmp_path / "other", "second CA")
    bundle = ca.pem_path.read_bytes() + b"\n" + other.pem_path.read_bytes().replace(b"\n", b"\r\n")
    assert [c.subject for c in PEM(bundle)] == ["CN=unit agents CA", "CN=second CA"]


def _key_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


@pytest.mark.parametrize("content,message", [
    (lambda ca: ca + _key_pem(), "holds a PRIVATE KEY block; the file must hold PEM certificates only"),
    (lambda ca: b"subject=CN=x\n" + ca, "holds text outside its PEM blocks; the file must hold PEM certificates only"),
    (lambda ca: ca + b"trailing", "holds text outside its PEM blocks; the file must hold PEM certificates only"),
    (lambda ca: b"", "holds no PEM certificate (-----BEGIN CERTIFICATE-----)"),
    (lambda ca: ca.replace(b"\n", b"\n!", 2), "certificate 1 is not a valid X.509 certificate"),
    (lambda ca: b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
     "certificate 1 is not a valid X.509 certificate"),
    (lambda ca: "é".encode() + ca, "holds text outside its PEM blocks"),
])
def test_anything_but_pem_certificates_is_refused(ca: TestCA, content, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        PEM(content(ca.pem_path.read_bytes()))
    assert str(raised.value).startswith(message)
