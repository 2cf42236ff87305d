"""Electronic certificates (电子证照): papers as PDFs signed with the bureau's key (PAdES).

- SIGN-1 Every issued paper is signed PAdES (baseline B-B: /SubFilter /ETSI.CAdES.detached,
  one invisible signature field "Signature1") with the bureau's key. No timestamp authority is
  asked (the bureau intranet has none): the signing time is the one the bureau's machine states
  in the signature dictionary (/M).
- SIGN-2 Verification trusts only the configured signing certificate (or the issuer chain given
  with it in configuration), never fetches anything (no OCSP, CRL, AIA or timestamp server), and
  fails on any change after signing: a byte changed anywhere in the signed range or in the
  zeros that pad the signature container (/Contents is outside the signed range), or anything
  after the signed revision (an incremental update, even one that "only" adds an annotation,
  or bytes appended to the file). The bureau never adds to a signed paper, so a valid paper is
  exactly the file that was signed.

The key is configuration (a PEM private key and its certificate); in development
`generate_development_key` makes a self-signed one under ./var. Key material never appears in a
message, an error or a repr.

pyHanko's synchronous entry points run their own event loop: `sign_pdf` and `verify_pdf` block
and must not be called on a running event loop (from async code use `asyncio.to_thread` or
Starlette's `run_in_threadpool`).
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID

with warnings.catch_warnings():  # pyHanko imports DSA support, which cryptography deprecates
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    from pyhanko.keys import load_certs_from_pemder_data, load_private_key_from_pemder_data
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.writer import BasePdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.general import SigningError
    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
    from pyhanko.sign.signers.pdf_signer import PdfSigningSession
    from pyhanko.sign.validation import (
        KeyUsageConstraints,
        SignatureCoverageLevel,
        validate_pdf_signature,
    )
    from pyhanko_certvalidator import ValidationContext
    from pyhanko_certvalidator.registry import SimpleCertificateStore

from registry.services.errors import DomainError

KEY_FILE = "papers-signing-key.pem"
CERT_FILE = "papers-signing-cert.pem"
FIELD_NAME = "Signature1"
DEVELOPMENT_SUBJECT = "巴中市不动产登记中心（开发）"
DEVELOPMENT_VALIDITY = timedelta(days=3650)
# Either usage makes a certificate fit for signing papers (pyHanko alone wants nonRepudiation).
SIGNER_KEY_USAGE = frozenset({"digital_signature", "non_repudiation"})

NOT_A_PDF = "not a PDF"
NO_SIGNATURE = "no signature"
SEVERAL_SIGNATURES = "more than one signature"
MODIFIED = "modified after signing"
UNTRUSTED = "not signed by the bureau's key"
UNCHECKABLE = "the signature cannot be checked"


@dataclass(frozen=True)
class SigningKey:
    """The bureau's private key and certificate (PEM), with any issuer certificates (PEM) that
    are embedded in each signature so a reader can build the chain."""

    key_pem: bytes = field(repr=False)
    cert_pem: bytes
    chain_pem: bytes = b""

    def __repr__(self) -> str:
        return f"SigningKey(subject={_subject(_load_cert(self.cert_pem))!r})"


@dataclass(frozen=True)
class SignatureCheck:
    """What `verify_pdf` found. `valid` is the verdict: intact, covering the whole file and
    trusted; `problem` says in English why not (None when valid)."""

    valid: bool
    intact: bool
    trusted: bool
    signer: str | None
    signed_at: datetime | None
    problem: str | None


def load_signing_key(key_path: Path, cert_path: Path) -> SigningKey:
    """Read the configured key and certificate; the certificate file may carry the issuer chain
    after the signing certificate."""
    where = {"key_path": str(key_path), "cert_path": str(cert_path)}
    try:
        key_bytes = Path(key_path).read_bytes()
        cert_bytes = Path(cert_path).read_bytes()
    except OSError as e:
        raise DomainError("NO_SIGNING_KEY", "未配置签章密钥，不能签发电子证照",
                          "no signing key is configured",
                          {**where, "reason": type(e).__name__}) from None
    try:
        key = serialization.load_pem_private_key(key_bytes, password=None)
        certs = x509.load_pem_x509_certificates(cert_bytes)
    except (ValueError, TypeError) as e:
        raise DomainError("BAD_SIGNING_KEY", "签章密钥或证书无法读取",
                          "the signing key or certificate cannot be parsed",
                          {**where, "reason": type(e).__name__}) from None
    cert, chain = certs[0], certs[1:]
    if _spki(key.public_key()) != _spki(cert.public_key()):
        raise DomainError("BAD_SIGNING_KEY", "签章密钥与证书不匹配",
                          "the signing key does not match the certificate",
                          {**where, "subject": _subject(cert)})
    if not _fit_for_signing(cert):
        raise DomainError("BAD_SIGNING_KEY", "签章证书不允许数字签名",
                          "the signing certificate does not allow digital signatures",
                          {**where, "subject": _subject(cert)})
    pem = serialization.Encoding.PEM
    return SigningKey(
        key_pem=key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()),
        cert_pem=cert.public_bytes(pem),
        chain_pem=b"".join(c.public_bytes(pem) for c in chain),
    )


def generate_development_key(directory: Path,
                             subject: str = DEVELOPMENT_SUBJECT) -> tuple[Path, Path]:
    """A self-signed EC P-256 key and certificate for development, written once into
    `directory` (the key with mode 0600); returns the existing files if both are there."""
    directory = Path(directory)
    key_path, cert_path = directory / KEY_FILE, directory / CERT_FILE
    if key_path.exists() and cert_path.exists():
        return key_path, cert_path
    if key_path.exists() or cert_path.exists():
        raise DomainError("BAD_SIGNING_KEY", "开发签章密钥只有一半（密钥或证书缺失）",
                          "only one of the development key and certificate exists",
                          {"key_path": str(key_path), "cert_path": str(cert_path)})
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.now(UTC).replace(microsecond=0)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + DEVELOPMENT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False,
                                     decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    _write_new(key_path, key_pem, 0o600)
    _write_new(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return key_path, cert_path


def sign_pdf(pdf: bytes, key: SigningKey, *, reason: str = "不动产登记电子证照",
             location: str = "巴中市", signed_at: datetime | None = None) -> bytes:
    """The PDF with an invisible PAdES B-B signature in field "Signature1", appended as an
    incremental update (the original bytes are kept as they are)."""
    if signed_at is not None and signed_at.tzinfo is None:
        raise ValueError("signed_at must be timezone-aware")
    prepared = _prepared_signer(key)
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
        md_algorithm="sha256",
    )
    pdf_signer = _PdfSignerAt(meta, signer=prepared.signer,
                              signed_at=signed_at or datetime.now(UTC).replace(microsecond=0))
    reserved = prepared.bytes_reserved
    if reserved is not None:
        try:
            return pdf_signer.sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf)), output=BytesIO(),
                                       bytes_reserved=reserved).getvalue()
        except SigningError:  # the container outgrew the room kept for it: measure again
            pass
    # pyHanko measures the container with a dry-run signature (a second signing, half the
    # cost of a paper's signature): done once per key, its reservation kept for the next.
    signed = pdf_signer.sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf)),
                                 output=BytesIO()).getvalue()
    prepared.bytes_reserved = _reserved_hex_digits(signed)
    return signed


@dataclass
class _PreparedSigner:
    signer: _TemplateSigner
    bytes_reserved: int | None = None  # hex digits of /Contents, as pyHanko measured them


@cache
def _prepared_signer(key: SigningKey) -> _PreparedSigner:
    """The key and certificates parsed once per key (they are the same for every paper)."""
    return _PreparedSigner(_TemplateSigner(
        signing_cert=_asn1_cert(key.cert_pem),
        signing_key=load_private_key_from_pemder_data(key.key_pem, passphrase=None),
        cert_registry=SimpleCertificateStore.from_certs(
            list(load_certs_from_pemder_data(key.chain_pem)) if key.chain_pem else []),
    ))


def _der(tag: int, content: bytes) -> bytes:
    """One DER element: tag, definite length, content."""
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + content


_MESSAGE_DIGEST_OID = bytes.fromhex("06092a864886f70d010904")  # 1.2.840.113549.1.9.4


@dataclass(frozen=True)
class _CmsTemplate:
    """The DER of a PAdES B-B container pyHanko made for this key, cut where a signature
    differs from the next: the message digest, then the signature value."""

    attrs_before: bytes  # the signed attributes before messageDigest (contentType)
    attrs_after: bytes  # … and after it (signingCertificateV2)
    signer_info_head: bytes  # version, sid, digestAlgorithm
    signature_algorithm: bytes
    signature_algorithm_name: str
    signed_data_head: bytes  # version, digestAlgorithms, encapContentInfo, certificates
    content_type: bytes  # the OID of signedData

    @classmethod
    def of(cls, container: cms.ContentInfo) -> _CmsTemplate | None:
        signed_data = container["content"]
        if len(signed_data["signer_infos"]) != 1 or signed_data["crls"].native is not None:
            return None
        info = signed_data["signer_infos"][0]
        attrs = [a.dump() for a in info["signed_attrs"]]
        types = [a["type"].native for a in info["signed_attrs"]]
        if (types != ["content_type", "message_digest", "signing_certificate_v2"]
                or info["unsigned_attrs"].native is not None):
            return None  # not the container this template knows how to make
        return cls(attrs_before=attrs[0], attrs_after=attrs[2],
                   signer_info_head=info["version"].dump() + info["sid"].dump()
                   + info["digest_algorithm"].dump(),
                   signature_algorithm=info["signature_algorithm"].dump(),
                   signature_algorithm_name=info["signature_algorithm"]["algorithm"].native,
                   signed_data_head=signed_data["version"].dump()
                   + signed_data["digest_algorithms"].dump()
                   + signed_data["encap_content_info"].dump()
                   + signed_data["certificates"].dump(),
                   content_type=container["content_type"].dump())

    def signed_attributes(self, digest: bytes) -> bytes:
        """The content of the signed attributes' SET OF (in DER order: by encoding, which
        is contentType, messageDigest, signingCertificateV2 by their lengths)."""
        message_digest = _der(0x30, _MESSAGE_DIGEST_OID + _der(0x31, _der(0x04, digest)))
        return self.attrs_before + message_digest + self.attrs_after

    def container(self, attributes: bytes, signature: bytes) -> bytes:
        signer_info = _der(0x30, self.signer_info_head + _der(0xA0, attributes)
                           + self.signature_algorithm + _der(0x04, signature))
        signed_data = _der(0x30, self.signed_data_head + _der(0x31, signer_info))
        return _der(0x30, self.content_type + _der(0xA0, signed_data))


class _Encoded(cms.ContentInfo):
    """A container that dumps as the DER it was made from. asn1crypto takes any header
    ending in 0x80 for an indefinite length and re-encodes the whole tree (≈ 100 ms), which
    a definite length of 0x…80 (e.g. 896 bytes) triggers too."""

    _der: bytes = b""

    @classmethod
    def of(cls, der: bytes) -> _Encoded:
        loaded = cls.load(der)
        loaded._der = der
        return loaded

    def dump(self, force: bool = False) -> bytes:
        return self._der if self._der and not force else super().dump(force)


class _TemplateSigner(signers.SimpleSigner):
    """pyHanko's SimpleSigner, with the container it made the first time reused as a DER
    template: only the document digest and the signature change from one paper to the next
    (the certificates, algorithms and signingCertificateV2 attribute do not), and building
    the same structure again through asn1crypto cost more than the rest of a signature."""

    _template: _CmsTemplate | None = None
    _private: PrivateKeyTypes | None = None

    async def async_sign(self, data_digest: bytes, digest_algorithm: str,
                         dry_run: bool = False, use_pades: bool = False,
                         timestamper: Any = None,
                         signed_attr_settings: PdfCMSSignedAttributes | None = None,
                         is_pdf_sig: bool = True,
                         encap_content_info: Any = None) -> cms.ContentInfo:
        plain = (not dry_run and use_pades and timestamper is None and is_pdf_sig
                 and encap_content_info is None and digest_algorithm.lower() == "sha256"
                 and (signed_attr_settings is None
                      or (signed_attr_settings.adobe_revinfo_attr is None
                          and signed_attr_settings.cades_signed_attrs is None)))
        if plain and self._template is not None:
            attributes = self._template.signed_attributes(data_digest)
            signature = await self._sign_raw(_der(0x31, attributes))
            return _Encoded.of(self._template.container(attributes, signature))
        made: cms.ContentInfo = await super().async_sign(
            data_digest, digest_algorithm, dry_run=dry_run, use_pades=use_pades,
            timestamper=timestamper, signed_attr_settings=signed_attr_settings,
            is_pdf_sig=is_pdf_sig, encap_content_info=encap_content_info)
        if plain:
            template = _CmsTemplate.of(made)
            # Used only if it rebuilds pyHanko's container byte for byte.
            if template is not None:
                info = made["content"]["signer_infos"][0]
                again = template.container(
                    template.signed_attributes(data_digest), info["signature"].native)
                self._template = template if again == made.dump() else None
        return made

    async def _sign_raw(self, data: bytes) -> bytes:
        """The signature of `data` as the template's algorithm names it, with the key parsed
        once (pyHanko parses it for every signature: 37 ms for an RSA key's checks)."""
        algorithm = self._template.signature_algorithm_name if self._template else None
        if self._private is None:
            self._private = serialization.load_der_private_key(self.signing_key.dump(), None)
        if algorithm == "sha256_ecdsa" and isinstance(self._private, ec.EllipticCurvePrivateKey):
            return self._private.sign(data, ec.ECDSA(hashes.SHA256()))
        if algorithm == "sha256_rsa" and isinstance(self._private, rsa.RSAPrivateKey):
            return self._private.sign(data, padding.PKCS1v15(), hashes.SHA256())
        signature: bytes = await self.async_sign_raw(data, "sha256")
        return signature


_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*0\s+(\d+)\s+(\d+)\s+\d+\s*\]")


def _reserved_hex_digits(signed: bytes) -> int | None:
    """The room pyHanko kept for the signature: the gap of the last /ByteRange less its <>."""
    found = list(_BYTE_RANGE.finditer(signed))
    if not found:
        return None
    first_len, second_start = int(found[-1].group(1)), int(found[-1].group(2))
    return second_start - first_len - 2


def verify_pdf(pdf: bytes, trusted_cert_pem: bytes) -> SignatureCheck:
    """Check a signed paper against the configured certificate (and any issuer certificates in
    the same PEM), offline. Never raises for a bad PDF: the verdict says what is wrong; an
    unreadable `trusted_cert_pem` is configuration and raises DomainError BAD_SIGNING_KEY."""
    roots = _trust_roots(trusted_cert_pem)
    try:
        reader = PdfFileReader(BytesIO(pdf))
        signatures = reader.embedded_signatures
    except Exception:
        return _refused(NOT_A_PDF)
    if not signatures:
        return _refused(NO_SIGNATURE)
    if len(signatures) > 1:
        return _refused(SEVERAL_SIGNATURES)
    embedded = signatures[0]
    if not _padding_intact(embedded.pkcs7_content):
        return _refused(MODIFIED)
    try:
        context = ValidationContext(trust_roots=roots, allow_fetching=False,
                                    revocation_mode="soft-fail")
        status = validate_pdf_signature(
            embedded, signer_validation_context=context,
            key_usage_settings=KeyUsageConstraints(key_usage=set(SIGNER_KEY_USAGE)))
        signer = _subject_of_asn1(embedded.signer_cert)
    except Exception:
        return _refused(UNCHECKABLE)
    intact = bool(status.intact and status.valid
                  and status.coverage == SignatureCoverageLevel.ENTIRE_FILE)
    trusted = bool(status.trusted)
    problem = None if intact and trusted else (MODIFIED if not intact else UNTRUSTED)
    return SignatureCheck(valid=problem is None, intact=intact, trusted=trusted, signer=signer,
                          signed_at=status.signer_reported_dt, problem=problem)


class _PdfSignerAt(signers.PdfSigner):
    """PdfSigner with the signing time given by the caller (pyHanko takes the clock's)."""

    def __init__(self, meta: signers.PdfSignatureMetadata, *, signer: signers.Signer,
                 signed_at: datetime) -> None:
        super().__init__(meta, signer=signer)
        self._signed_at = signed_at

    def init_signing_session(self, pdf_out: BasePdfFileWriter,
                             existing_fields_only: bool = False) -> PdfSigningSession:
        session = super().init_signing_session(pdf_out, existing_fields_only)
        session.system_time = self._signed_at
        return session


def _padding_intact(contents: bytes) -> bool:
    """/Contents is outside the signed range: past the CMS container it must be the zeros it
    was padded with, or a changed file would still verify (SIGN-2)."""
    try:
        length = len(cms.ContentInfo.load(contents).dump())
    except Exception:
        return True  # not a container at all: validation refuses it (UNCHECKABLE)
    return not contents[length:].strip(b"\x00")


def _refused(problem: str) -> SignatureCheck:
    return SignatureCheck(valid=False, intact=False, trusted=False, signer=None,
                          signed_at=None, problem=problem)


def _trust_roots(trusted_cert_pem: bytes) -> list[asn1_x509.Certificate]:
    try:
        roots = list(load_certs_from_pemder_data(trusted_cert_pem))
    except Exception:
        roots = []
    if not roots:
        raise DomainError("BAD_SIGNING_KEY", "签章证书无法读取，不能验证电子证照",
                          "the trusted signing certificate cannot be parsed")
    return roots


def _asn1_cert(pem: bytes) -> asn1_x509.Certificate:
    return next(iter(load_certs_from_pemder_data(pem)))


def _load_cert(pem: bytes) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        return None


def _subject(cert: x509.Certificate | None) -> str | None:
    if cert is None:
        return None
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def _subject_of_asn1(cert: asn1_x509.Certificate) -> str | None:
    return _subject(x509.load_der_x509_certificate(cert.dump()))


def _spki(public_key: PublicKeyTypes) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def _fit_for_signing(cert: x509.Certificate) -> bool:
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return bool(usage.digital_signature or usage.content_commitment)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Write a file that must not exist yet, with `mode` (less the umask) from its creation
    on: the key is never readable by others, not even for a moment."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
