"""Electronic certificates signed PAdES with the bureau's key (SIGN-1, SIGN-2); no database."""

from __future__ import annotations

import re
import socket
import stat
from datetime import UTC, datetime, timedelta, timezone
from io import BytesIO
from pathlib import Path

import pytest
import typst
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from registry.papers.signing import (
    CERT_FILE,
    DEVELOPMENT_SUBJECT,
    KEY_FILE,
    SignatureCheck,
    SigningKey,
    generate_development_key,
    load_signing_key,
    sign_pdf,
    verify_pdf,
)
from registry.services.errors import DomainError

CST = timezone(timedelta(hours=8))
PAPER_TEXT = "= 不动产权证书\n川(2026)平昌县不动产权第0000001号"


@pytest.fixture(scope="module")
def paper() -> bytes:
    return typst.compile(PAPER_TEXT.encode(), format="pdf")


@pytest.fixture(scope="module")
def bureau_key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return load_signing_key(*generate_development_key(tmp_path_factory.mktemp("bureau")))


@pytest.fixture(scope="module")
def signed(paper: bytes, bureau_key: SigningKey) -> bytes:
    return sign_pdf(paper, bureau_key, signed_at=datetime(2026, 3, 1, 9, 30, tzinfo=CST))


def byte_range(pdf: bytes) -> tuple[int, int, int, int]:
    found = re.findall(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
    assert len(found) == 1
    a, b, c, d = (int(x) for x in found[0])
    return a, b, c, d


def assert_refused(check: SignatureCheck, problem: str) -> None:
    assert not check.valid
    assert check.problem == problem


# -- the development key --------------------------------------------------------------------

def test_the_development_key_is_private_and_made_once(tmp_path: Path) -> None:
    key_path, cert_path = generate_development_key(tmp_path / "var")
    assert (key_path.name, cert_path.name) == (KEY_FILE, CERT_FILE)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    key_pem, cert_pem = key_path.read_bytes(), cert_path.read_bytes()

    assert generate_development_key(tmp_path / "var") == (key_path, cert_path)
    assert (key_path.read_bytes(), cert_path.read_bytes()) == (key_pem, cert_pem)

    cert = x509.load_pem_x509_certificate(cert_pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == \
        DEVELOPMENT_SUBJECT
    assert cert.issuer == cert.subject
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment
    assert cert.not_valid_after_utc - cert.not_valid_before_utc >= timedelta(days=3650)


def test_half_a_development_key_is_refused_not_overwritten(tmp_path: Path) -> None:
    key_path, cert_path = generate_development_key(tmp_path)
    cert_path.unlink()
    kept = key_path.read_bytes()
    with pytest.raises(DomainError) as e:
        generate_development_key(tmp_path)
    assert e.value.code == "BAD_SIGNING_KEY"
    assert key_path.read_bytes() == kept


def test_a_signing_key_never_shows_its_key(bureau_key: SigningKey) -> None:
    shown = repr(bureau_key) + str(bureau_key)
    assert "PRIVATE" not in shown and "BEGIN" not in shown
    assert DEVELOPMENT_SUBJECT in shown
    assert b"PRIVATE KEY" in bureau_key.key_pem


def test_a_missing_key_is_no_signing_key(tmp_path: Path) -> None:
    with pytest.raises(DomainError) as e:
        load_signing_key(tmp_path / "absent-key.pem", tmp_path / "absent-cert.pem")
    assert e.value.code == "NO_SIGNING_KEY"
    assert e.value.message_zh == "未配置签章密钥，不能签发电子证照"
    assert e.value.message_en == "no signing key is configured"


def test_a_key_that_is_not_the_certificates_is_refused(tmp_path: Path) -> None:
    key_a, _ = generate_development_key(tmp_path / "a")
    _, cert_b = generate_development_key(tmp_path / "b")
    with pytest.raises(DomainError) as e:
        load_signing_key(key_a, cert_b)
    assert e.value.code == "BAD_SIGNING_KEY"
    told = f"{e.value} {e.value.message_zh} {e.value.details}"
    assert "PRIVATE" not in told and "BEGIN" not in told


def test_an_unreadable_key_is_refused_without_showing_it(tmp_path: Path) -> None:
    _, cert_path = generate_development_key(tmp_path)
    bad_key = tmp_path / "bad-key.pem"
    bad_key.write_bytes(b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0IGJ1dCBicm9rZW4=\n"
                        b"-----END PRIVATE KEY-----\n")
    with pytest.raises(DomainError) as e:
        load_signing_key(bad_key, cert_path)
    assert e.value.code == "BAD_SIGNING_KEY"
    assert "c2VjcmV0" not in f"{e.value} {e.value.message_zh} {e.value.details}"


# -- signing and verifying ------------------------------------------------------------------

def test_a_signed_paper_verifies_against_the_bureau_certificate(
        signed: bytes, paper: bytes, bureau_key: SigningKey) -> None:
    assert signed.startswith(paper)  # an incremental update: the paper's bytes are kept
    (embedded,) = PdfFileReader(BytesIO(signed)).embedded_signatures
    assert embedded.field_name == "Signature1"
    assert embedded.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"  # PAdES
    check = verify_pdf(signed, bureau_key.cert_pem)
    assert check == SignatureCheck(valid=True, intact=True, trusted=True,
                                   signer=DEVELOPMENT_SUBJECT,
                                   signed_at=datetime(2026, 3, 1, 9, 30, tzinfo=CST),
                                   problem=None)


def test_one_byte_changed_in_the_signed_range_is_refused(
        signed: bytes, bureau_key: SigningKey) -> None:
    _, first_len, _, _ = byte_range(signed)
    start = signed.index(b"stream", signed.index(b"/Filter")) + len(b"stream\n")
    end = signed.index(b"endstream", start)
    offset = (start + end) // 2
    assert offset < first_len  # inside the first signed range, not the signature's hex
    tampered = bytearray(signed)
    tampered[offset] ^= 0x01
    check = verify_pdf(bytes(tampered), bureau_key.cert_pem)
    assert_refused(check, "modified after signing")
    assert not check.intact


def test_bytes_appended_after_signing_are_refused(
        signed: bytes, bureau_key: SigningKey) -> None:
    check = verify_pdf(signed + b"\n% appended\n", bureau_key.cert_pem)
    assert_refused(check, "modified after signing")
    assert not check.intact and check.trusted


def test_an_incremental_update_after_signing_is_refused(
        signed: bytes, bureau_key: SigningKey) -> None:
    writer = IncrementalPdfFileWriter(BytesIO(signed))
    page_ref = writer.root["/Pages"].raw_get("/Kids")[0]
    page = page_ref.get_object()
    note = writer.add_object(generic.DictionaryObject({
        generic.pdf_name("/Type"): generic.pdf_name("/Annot"),
        generic.pdf_name("/Subtype"): generic.pdf_name("/Text"),
        generic.pdf_name("/Rect"): generic.ArrayObject(
            [generic.NumberObject(n) for n in (10, 10, 40, 40)]),
        generic.pdf_name("/Contents"): generic.TextStringObject("已注销"),
    }))
    annots = page.get("/Annots", generic.ArrayObject())
    page[generic.pdf_name("/Annots")] = generic.ArrayObject([*annots, note])
    writer.update_container(page)
    out = BytesIO()
    writer.write(out)
    updated = out.getvalue()
    assert updated.startswith(signed) and len(updated) > len(signed)

    check = verify_pdf(updated, bureau_key.cert_pem)
    assert_refused(check, "modified after signing")


def test_a_paper_signed_with_another_key_is_not_trusted(
        paper: bytes, bureau_key: SigningKey, tmp_path: Path) -> None:
    # Same subject, another key: only the configured certificate is trusted.
    other = load_signing_key(*generate_development_key(tmp_path))
    check = verify_pdf(sign_pdf(paper, other), bureau_key.cert_pem)
    assert_refused(check, "not signed by the bureau's key")
    assert check.intact and not check.trusted
    assert check.signer == DEVELOPMENT_SUBJECT


def test_a_paper_signed_by_a_key_the_configured_ca_issued_is_trusted(
        paper: bytes, tmp_path: Path) -> None:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "四川省不动产登记 CA（测试）")])
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "平昌县不动产登记中心")])
    now = datetime.now(UTC)

    def issue(subject: x509.Name, public_key: ec.EllipticCurvePublicKey, ca: bool) -> bytes:
        usage = x509.KeyUsage(digital_signature=not ca, content_commitment=not ca,
                              key_encipherment=False, data_encipherment=False,
                              key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                              encipher_only=False, decipher_only=False)
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name)
                .public_key(public_key).serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(days=1))
                .not_valid_after(now + timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                .add_extension(usage, critical=True)
                .sign(ca_key, hashes.SHA256()))
        return cert.public_bytes(serialization.Encoding.PEM)

    ca_pem = issue(ca_name, ca_key.public_key(), ca=True)
    leaf_pem = issue(leaf_name, leaf_key.public_key(), ca=False)
    (tmp_path / "key.pem").write_bytes(leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (tmp_path / "cert.pem").write_bytes(leaf_pem + ca_pem)  # the chain after the leaf
    key = load_signing_key(tmp_path / "key.pem", tmp_path / "cert.pem")
    assert key.chain_pem == ca_pem

    check = verify_pdf(sign_pdf(paper, key), ca_pem)
    assert check.valid and check.trusted and check.signer == "平昌县不动产登记中心"


@pytest.mark.parametrize("algorithm", ["ec", "rsa"])
def test_every_paper_a_key_signs_is_valid_not_only_the_first(
        paper: bytes, tmp_path: Path, algorithm: str) -> None:
    """The first signature with a key is pyHanko's; the next reuse its container's DER."""
    private = (ec.generate_private_key(ec.SECP256R1()) if algorithm == "ec"
               else rsa.generate_private_key(public_exponent=65537, key_size=2048))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"签章测试（{algorithm}）")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(private.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .sign(private, hashes.SHA256()))
    (tmp_path / "key.pem").write_bytes(private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key = load_signing_key(tmp_path / "key.pem", tmp_path / "cert.pem")
    papers = [sign_pdf(paper, key, signed_at=now.replace(microsecond=0) + timedelta(minutes=i))
              for i in range(6)]
    for i, signed_paper in enumerate(papers):
        check = verify_pdf(signed_paper, key.cert_pem)
        assert check.valid, (i, check.problem)
        assert check.signed_at == now.replace(microsecond=0) + timedelta(minutes=i)
    assert len(set(papers)) == len(papers)


def test_an_unsigned_paper_has_no_signature(paper: bytes, bureau_key: SigningKey) -> None:
    assert_refused(verify_pdf(paper, bureau_key.cert_pem), "no signature")


@pytest.mark.parametrize("garbage", [b"", b"not a pdf at all", b"%PDF-1.7\n\x00\xff" * 40])
def test_garbage_is_not_a_pdf_and_raises_nothing(garbage: bytes, bureau_key: SigningKey) -> None:
    check = verify_pdf(garbage, bureau_key.cert_pem)
    assert_refused(check, "not a PDF")
    assert not check.intact and not check.trusted and check.signer is None


def test_a_truncated_signed_paper_is_refused(signed: bytes, bureau_key: SigningKey) -> None:
    check = verify_pdf(signed[: len(signed) // 2], bureau_key.cert_pem)
    assert not check.valid and check.problem is not None


def test_signing_and_verifying_touch_no_network(
        paper: bytes, bureau_key: SigningKey, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the network was used")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket.socket, "connect_ex", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)

    signed = sign_pdf(paper, bureau_key)
    check = verify_pdf(signed, bureau_key.cert_pem)
    assert check.valid, check.problem
    assert check.signed_at is not None
    assert abs(check.signed_at - datetime.now(UTC)) < timedelta(minutes=5)


def test_a_changed_signature_is_refused(signed: bytes, bureau_key: SigningKey) -> None:
    _, first_len, second_start, _ = byte_range(signed)
    offset = (first_len + second_start) // 2  # inside the signature's hex, outside the range
    tampered = bytearray(signed)
    tampered[offset] = ord("0") if tampered[offset] != ord("0") else ord("1")
    check = verify_pdf(bytes(tampered), bureau_key.cert_pem)
    assert not check.valid and check.problem is not None


def test_a_changed_byte_in_the_signature_padding_is_refused(signed: bytes,
                                                            bureau_key: SigningKey) -> None:
    """SIGN-2: the zeros after the CMS container are outside the signed range too."""
    second_start = byte_range(signed)[2]
    tampered = bytearray(signed)
    tampered[second_start - 3] = ord("1")  # the last hex digit before the closing ">"
    assert_refused(verify_pdf(bytes(tampered), bureau_key.cert_pem), "modified after signing")


def test_verifying_without_a_trusted_certificate_is_a_configuration_error(
        signed: bytes) -> None:
    with pytest.raises(DomainError) as e:
        verify_pdf(signed, b"")
    assert e.value.code == "BAD_SIGNING_KEY"
