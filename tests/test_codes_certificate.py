"""不动产权证书号 and 不动产登记证明号 (domain.md §3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.codes import (
    PROVINCE_ABBREVIATIONS,
    CertificateKind,
    CertificateNumber,
    CodeError,
    Problem,
    check_certificate_number,
    format_certificate_number,
    parse_certificate_number,
)

EXAMPLE = "川(2022)巴中市不动产权第0001234号"


def codes(problems: list[Problem]) -> set[str]:
    return {p.code for p in problems}


def test_there_are_34_province_abbreviations_one_per_province() -> None:
    assert len(PROVINCE_ABBREVIATIONS) == 34
    assert {"川", "京", "渝", "港", "澳", "台", "蒙", "藏"} <= PROVINCE_ABBREVIATIONS


def test_domain_example_parses() -> None:
    number = parse_certificate_number(EXAMPLE)
    assert number == CertificateNumber("川", 2022, "巴中市", CertificateKind.RIGHT, 1234, 7)
    assert number.text == EXAMPLE
    assert str(number) == EXAMPLE


@pytest.mark.parametrize(
    "text",
    [
        "川（2022）巴中市不动产权第0001234号",
        "川（2022)巴中市不动产权第0001234号",
        "川(2022）巴中市不动产权第0001234号",
        "川（２０２２）巴中市不动产权第０００１２３４号",
        "  川(2022)巴中市不动产权第0001234号\u3000",
    ],
)
def test_full_width_brackets_and_digits_are_accepted(text: str) -> None:
    assert check_certificate_number(text) == []
    assert parse_certificate_number(text).text == EXAMPLE


def test_proof_numbers_and_eight_digit_serials() -> None:
    number = parse_certificate_number("川(2023)平昌县不动产证明第00012345号")
    assert number.kind is CertificateKind.PROOF
    assert (number.authority, number.serial, number.width) == ("平昌县", 12345, 8)
    assert number.text == "川(2023)平昌县不动产证明第00012345号"


def test_guizhou_certificates_use_qian() -> None:
    assert check_certificate_number("黔(2017)黔西县不动产证明第0003901号") == []


def test_kind_labels() -> None:
    assert CertificateKind.RIGHT.label_zh == "不动产权证书"
    assert CertificateKind.PROOF.label_zh == "不动产登记证明"


def test_format_pads_the_serial_to_the_width() -> None:
    assert format_certificate_number("川", 2022, "巴中市", "不动产权", 1234) == EXAMPLE
    assert (format_certificate_number("川", 2022, "巴中市", CertificateKind.PROOF, 5, width=8)
            == "川(2022)巴中市不动产证明第00000005号")


def test_a_serial_wider_than_the_width_is_printed_in_full() -> None:
    assert (format_certificate_number("川", 2022, "巴中市", "不动产权", 12_345_678)
            == "川(2022)巴中市不动产权第12345678号")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {"EMPTY"}),
        ("川(2022)巴中市不动产权第" + "1" * 60 + "号", {"BAD_LENGTH"}),
        ("川2022巴中市不动产权第0001234号", {"BAD_FORMAT"}),
        ("川(2022)不动产权第0001234号", {"BAD_FORMAT"}),  # no authority
        ("川(2022)巴中市不动产权第000123A号", {"BAD_FORMAT"}),
        ("川(2022)巴中市不动产权第号", {"BAD_FORMAT"}),
        ("川(2022)巴中市房产证第0001234号", {"BAD_FORMAT"}),
        ("川 (2022) 巴中市不动产权第0001234号", {"BAD_FORMAT"}),  # no inner whitespace
        ("川(2022)巴中市不动产权第0001234", {"BAD_FORMAT"}),
        ("四川(2022)巴中市不动产权第0001234号", {"BAD_PROVINCE"}),
        ("X(2022)巴中市不动产权第0001234号", {"BAD_PROVINCE"}),
        ("川(1948)巴中市不动产权第0001234号", {"BAD_YEAR"}),
        ("川(3000)巴中市不动产权第0001234号", {"BAD_YEAR"}),
        ("川(22)巴中市不动产权第0001234号", {"BAD_YEAR"}),
        ("川(02022)巴中市不动产权第0001234号", {"BAD_YEAR"}),
        ("川(二〇二二)巴中市不动产权第0001234号", {"BAD_YEAR"}),
        ("川(2022)巴中市不动产权第0000000号", {"BAD_SERIAL"}),
        ("X(1900)巴中市不动产权第0号", {"BAD_PROVINCE", "BAD_YEAR", "BAD_SERIAL"}),
    ],
)
def test_certificate_number_rules(text: str, expected: set[str]) -> None:
    assert codes(check_certificate_number(text)) == expected


def test_messages_stay_encodable_for_unprintable_input() -> None:
    (problem,) = check_certificate_number("\ud800(2022)巴中市不动产权第0001234号")
    assert problem.code == "BAD_PROVINCE"
    assert "\\ud800" in problem.message_zh  # shown escaped
    (problem.message_zh + problem.message_en).encode("utf-8")


def test_parse_raises_code_error_with_every_problem() -> None:
    with pytest.raises(CodeError) as caught:
        parse_certificate_number("X(1900)巴中市不动产权第0号")
    assert caught.value.codes == {"BAD_PROVINCE", "BAD_YEAR", "BAD_SERIAL"}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("沪", 2022, "巴中市", CertificateKind.RIGHT, 0), {"BAD_SERIAL"}),
        (("沪", 2022, "巴中市", CertificateKind.RIGHT, -1), {"BAD_SERIAL"}),
        (("SC", 2022, "巴中市", CertificateKind.RIGHT, 1), {"BAD_PROVINCE"}),
        (("川", 1900, "巴中市", CertificateKind.RIGHT, 1), {"BAD_YEAR"}),
        (("川", 2022, "", CertificateKind.RIGHT, 1), {"BAD_FORMAT"}),
        (("川", 2022, "巴中(市)", CertificateKind.RIGHT, 1), {"BAD_FORMAT"}),
        (("川", 2022, "bazhong", CertificateKind.RIGHT, 1), {"BAD_FORMAT"}),
    ],
)
def test_constructing_an_invalid_number_raises(
    args: tuple[str, int, str, CertificateKind, int], expected: set[str]
) -> None:
    with pytest.raises(CodeError) as caught:
        CertificateNumber(*args)
    assert caught.value.codes == expected


# ---- properties ------------------------------------------------------------------------------

AUTHORITY_CHARACTERS = "巴中市州区恩阳通江南平昌县成都绵浦字"
certificate_numbers = st.builds(
    CertificateNumber,
    province=st.sampled_from(sorted(PROVINCE_ABBREVIATIONS)),
    year=st.integers(1949, 2999),
    authority=st.text(AUTHORITY_CHARACTERS, min_size=1, max_size=8),
    kind=st.sampled_from(CertificateKind),
    serial=st.integers(1, 10**12),
    width=st.integers(1, 12),
)


@given(certificate_numbers)
def test_valid_numbers_round_trip(number: CertificateNumber) -> None:
    text = number.text
    assert check_certificate_number(text) == []
    parsed = parse_certificate_number(text)
    assert parsed.text == text
    assert (parsed.province, parsed.year, parsed.authority, parsed.kind, parsed.serial) == (
        number.province, number.year, number.authority, number.kind, number.serial,
    )
    full_width = text.replace("(", "（").replace(")", "）")
    assert parse_certificate_number(full_width).text == text


odd_characters = "川京黔(（)）0123456789０１号第不动产权证明巴中市 \u3000\x00"
arbitrary_text = st.one_of(
    st.text(),
    st.builds(lambda a, s, b: a + s + b,  # a lone surrogate inside
              st.text(max_size=15), st.characters(categories=["Cs"]), st.text(max_size=15)),
    st.text(odd_characters, max_size=40),
    st.builds(lambda s, n: (s * n)[:10_000],
              st.text(min_size=1, max_size=20), st.integers(1, 10_000)),
    st.builds(
        lambda n, i, ch: n.text[:i] + ch + n.text[i + 1:],
        certificate_numbers, st.integers(0, 30), st.characters(),
    ),
)


@given(arbitrary_text)
def test_check_never_raises_and_parse_raises_only_code_error(text: str) -> None:
    problems = check_certificate_number(text)
    assert isinstance(problems, list)
    assert all(isinstance(p, Problem) for p in problems)
    for p in problems:  # messages are printable text even for lone surrogates
        (p.message_zh + p.message_en).encode("utf-8")
    try:
        parse_certificate_number(text)
    except CodeError as error:
        assert error.problems
