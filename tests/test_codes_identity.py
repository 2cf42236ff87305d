"""Party ID numbers: 居民身份证 (GB 11643), 统一社会信用代码 (GB 32100), 组织机构代码 (GB 11714)…"""

from __future__ import annotations

import contextlib
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.codes import (
    PROVINCE_CODES,
    CodeError,
    IdType,
    Problem,
    check_credit_code,
    check_id,
    check_resident_id,
    credit_code_check_char,
    is_collective_economic_org,
    mask_id,
    organization_code_check_char,
    parse_id,
    resident_id_check_char,
    upgrade_legacy_id,
)

TODAY = date(2025, 6, 1)
WORKED_RESIDENT_ID = "11010519491231002X"  # domain.md §6: S = 167, 167 mod 11 = 2 → X
WORKED_CREDIT_CODE = "91110108551385082Q"  # domain.md §6: S = 999, 999 mod 31 = 7 → Q
LEGACY_ID = "110105491231002"


def codes(problems: list[Problem]) -> set[str]:
    return {p.code for p in problems}


# ---- reference implementations, written from the standards, independent of the module --------

RESIDENT_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def reference_resident_check(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, RESIDENT_WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


def reference_credit_check(first17: str) -> str:
    total = sum(CREDIT_ALPHABET.index(c) * w
                for c, w in zip(first17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def reference_org_check(first8: str) -> str:
    total = sum(ORG_ALPHABET.index(c) * w
                for c, w in zip(first8, [3, 7, 9, 10, 5, 8, 4, 2], strict=True))
    return {10: "X", 11: "0"}.get(11 - total % 11, str(11 - total % 11))


# ---- worked examples and check characters ----------------------------------------------------


def test_worked_examples_of_domain_md_are_valid() -> None:
    assert check_id(IdType.RESIDENT_ID, WORKED_RESIDENT_ID, TODAY) == []
    assert check_id(IdType.CREDIT_CODE, WORKED_CREDIT_CODE) == []
    assert resident_id_check_char(WORKED_RESIDENT_ID[:17]) == "X"
    assert credit_code_check_char(WORKED_CREDIT_CODE[:17]) == "Q"


def test_worked_resident_id_parses_with_birth_date_and_region() -> None:
    parsed = parse_id(IdType.RESIDENT_ID, "11010519491231002x", TODAY)  # lower-case x
    assert parsed.number == WORKED_RESIDENT_ID
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.region == "110105"
    assert parsed.legacy is False


def test_credit_code_parses_with_region() -> None:
    parsed = parse_id("CREDIT_CODE", WORKED_CREDIT_CODE)
    assert (parsed.number, parsed.region, parsed.birth_date) == (WORKED_CREDIT_CODE, "110108", None)


def test_organization_code_check_characters() -> None:
    assert organization_code_check_char("55138508") == "2"  # the subject code of the credit code
    assert organization_code_check_char("00000006") == "X"  # 11 − 12 mod 11 = 10 → X
    assert organization_code_check_char("00000000") == "0"  # 11 − 0 = 11 → 0


@pytest.mark.parametrize("text", ["55138508-2", "551385082", "５５１３８５０８－２", "00000006-X"])
def test_organization_codes_parse_to_the_dashed_form(text: str) -> None:
    assert check_id(IdType.ORGANIZATION_CODE, text) == []
    assert parse_id(IdType.ORGANIZATION_CODE, text).number == normalize_org(text)


def normalize_org(text: str) -> str:
    ascii_text = text.translate({c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}).replace("-", "")
    return ascii_text[:8] + "-" + ascii_text[8]


def test_id_type_labels() -> None:
    assert IdType.RESIDENT_ID.label_zh == "居民身份证"
    assert IdType.CREDIT_CODE.label_zh == "统一社会信用代码"
    assert IdType.ORGANIZATION_CODE.label_zh == "组织机构代码"
    assert IdType.HK_MACAO_PERMIT.label_zh == "港澳居民来往内地通行证"
    assert IdType.TAIWAN_PERMIT.label_zh == "台湾居民来往大陆通行证"


# ---- resident ID problems --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {"EMPTY"}),
        ("1" * 65, {"BAD_LENGTH"}),
        ("1101051949123100", {"BAD_LENGTH"}),
        ("11010519491231002X1", {"BAD_LENGTH"}),
        ("11010519491231002A", {"BAD_CHARACTER"}),
        ("1101051949123100X2", {"BAD_CHARACTER"}),  # X only as the check character
        ("11010519491231002①", {"BAD_CHARACTER"}),
        ("990105194912310023", {"BAD_REGION"}),  # check char 3 is right for this number
        ("110105194902300020", {"BAD_DATE"}),  # 30 February
        ("110105203001010028", {"BAD_DATE"}),  # after TODAY
        ("110105187912310024", {"BAD_DATE"}),  # before 1880
        ("110105194912310021", {"BAD_CHECKSUM"}),
        ("990105194902300021", {"BAD_REGION", "BAD_DATE", "BAD_CHECKSUM"}),
        ("110105490230002", {"BAD_DATE"}),  # legacy with 30 February
        ("11010549123100A", {"BAD_CHARACTER"}),
        ("990105491231002", {"BAD_REGION"}),
    ],
)
def test_resident_id_rules(text: str, expected: set[str]) -> None:
    assert codes(check_id(IdType.RESIDENT_ID, text, TODAY)) == expected


def test_birth_date_may_be_today_but_not_tomorrow() -> None:
    first17 = "510000" + TODAY.strftime("%Y%m%d") + "001"
    assert check_resident_id(first17 + reference_resident_check(first17), TODAY) == []
    tomorrow = TODAY + timedelta(days=1)
    first17 = "510000" + tomorrow.strftime("%Y%m%d") + "001"
    assert codes(check_resident_id(first17 + reference_resident_check(first17), TODAY)) == {
        "BAD_DATE"
    }


def test_resident_id_problem_positions() -> None:
    problems = check_resident_id("11010519491231002A", TODAY)
    assert [(p.code, p.position) for p in problems] == [("BAD_CHARACTER", 18)]
    problems = check_resident_id("990105194902300021", TODAY)
    assert [(p.code, p.position) for p in problems] == [
        ("BAD_REGION", 1), ("BAD_DATE", 7), ("BAD_CHECKSUM", 18),
    ]


def test_problem_messages_do_not_repeat_the_number() -> None:
    for problem in check_resident_id("990105194902300021", TODAY):
        assert "990105194902300021" not in problem.message_zh + problem.message_en
        assert "19490230" not in problem.message_zh + problem.message_en


# ---- legacy 15-digit numbers -----------------------------------------------------------------


def test_legacy_id_is_accepted_with_one_warning() -> None:
    problems = check_id(IdType.RESIDENT_ID, LEGACY_ID, TODAY)
    assert [(p.code, p.severity) for p in problems] == [("LEGACY_ID", "warning")]
    parsed = parse_id(IdType.RESIDENT_ID, LEGACY_ID, TODAY)
    assert parsed.legacy is True
    assert parsed.number == LEGACY_ID
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.region == "110105"


def test_upgrade_legacy_id_inserts_19_and_computes_the_check_character() -> None:
    assert upgrade_legacy_id(LEGACY_ID) == WORKED_RESIDENT_ID


@pytest.mark.parametrize(
    ("text", "expected"),
    [(WORKED_RESIDENT_ID, {"BAD_LENGTH"}), ("110105490230002", {"BAD_DATE"}), ("", {"EMPTY"})],
)
def test_upgrade_legacy_id_rejects_anything_but_a_valid_15_digit_number(
    text: str, expected: set[str]
) -> None:
    with pytest.raises(CodeError) as caught:
        upgrade_legacy_id(text)
    assert caught.value.codes == expected


# ---- credit code problems --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {"EMPTY"}),
        ("9111010855138508", {"BAD_LENGTH"}),
        ("91110108551385082I", {"BAD_CHARACTER"}),  # I O S V Z are not in the alphabet
        ("9111010855138508OQ", {"BAD_CHARACTER"}),
        ("S1110108551385082Q", {"BAD_CHARACTER"}),
        ("B1110108551385082N", {"BAD_AUTHORITY"}),  # check char N is right for this code
        ("91990108551385082F", {"BAD_REGION"}),  # check char F is right
        ("91110108551385082A", {"BAD_CHECKSUM"}),
        ("911A0108551385082Q", {"BAD_CHARACTER", "BAD_CHECKSUM"}),  # a letter in the region
    ],
)
def test_credit_code_rules(text: str, expected: set[str]) -> None:
    assert codes(check_credit_code(text)) == expected
    assert codes(check_id(IdType.CREDIT_CODE, text)) == expected


@pytest.mark.parametrize("authority", list("123456789ANY"))
def test_registration_authorities_of_gb_32100_are_accepted(authority: str) -> None:
    first17 = authority + "1511923MA6234567"
    assert check_credit_code(first17 + reference_credit_check(first17)) == []


def test_collective_economic_organisations_start_n1_n2_n3() -> None:
    assert is_collective_economic_org("N2511923MA6234567P")  # 村级集体经济组织
    assert is_collective_economic_org("N1511923MA6234567T")  # 组级
    assert not is_collective_economic_org(WORKED_CREDIT_CODE)  # 工商 enterprise
    assert not is_collective_economic_org("N2511923MA6234567Q")  # bad check character
    assert not is_collective_economic_org("")


# ---- organization codes and other documents --------------------------------------------------


@pytest.mark.parametrize(
    ("id_type", "text", "expected"),
    [
        (IdType.ORGANIZATION_CODE, "55138508-3", {"BAD_CHECKSUM"}),
        (IdType.ORGANIZATION_CODE, "5513850", {"BAD_LENGTH"}),
        (IdType.ORGANIZATION_CODE, "5513850-82", {"BAD_LENGTH", "BAD_CHARACTER"}),
        (IdType.ORGANIZATION_CODE, "5513850*-2", {"BAD_CHARACTER"}),
        (IdType.ORGANIZATION_CODE, "55138508-A", {"BAD_CHARACTER"}),
        (IdType.ORGANIZATION_CODE, " ", {"EMPTY"}),
        (IdType.PASSPORT, "E1234", set()),
        (IdType.PASSPORT, "e12345678", set()),
        (IdType.PASSPORT, "E123", {"BAD_LENGTH"}),
        (IdType.PASSPORT, "E" * 21, {"BAD_LENGTH"}),
        (IdType.PASSPORT, "E1234567-", {"BAD_CHARACTER"}),
        (IdType.HK_MACAO_PERMIT, "H12345678", set()),
        (IdType.HK_MACAO_PERMIT, "M1234567890", set()),
        (IdType.HK_MACAO_PERMIT, "X12345678", {"BAD_CHARACTER"}),
        (IdType.HK_MACAO_PERMIT, "H1234567", {"BAD_LENGTH"}),
        (IdType.HK_MACAO_PERMIT, "H1234567A9", {"BAD_LENGTH", "BAD_CHARACTER"}),
        (IdType.TAIWAN_PERMIT, "12345678", set()),
        (IdType.TAIWAN_PERMIT, "1234567890", set()),
        (IdType.TAIWAN_PERMIT, "123456789", {"BAD_LENGTH"}),
        (IdType.TAIWAN_PERMIT, "1234567A", {"BAD_CHARACTER"}),
        (IdType.OTHER, "军官证 第123号", set()),
        (IdType.OTHER, "A\x07B", {"BAD_CHARACTER"}),
        (IdType.OTHER, "x" * 64, set()),
        (IdType.OTHER, "x" * 65, {"BAD_LENGTH"}),
        (IdType.OTHER, "\u3000", {"EMPTY"}),
    ],
)
def test_other_document_rules(id_type: IdType, text: str, expected: set[str]) -> None:
    assert codes(check_id(id_type, text)) == expected


# ---- masking ---------------------------------------------------------------------------------


def test_mask_resident_id_keeps_first_6_and_last_4() -> None:
    assert mask_id(IdType.RESIDENT_ID, "511923198001011234") == "511923********1234"
    assert mask_id(IdType.RESIDENT_ID, LEGACY_ID) == "110105******002"


@pytest.mark.parametrize(
    ("id_type", "number", "masked"),
    [
        (IdType.CREDIT_CODE, WORKED_CREDIT_CODE, "91**************2Q"),
        (IdType.PASSPORT, "E12345678", "E1*****78"),
        (IdType.OTHER, "ABCDEFGH", "AB****GH"),
        (IdType.OTHER, "ABCDEFG", "A*****G"),
        (IdType.OTHER, "ABCD", "A**D"),
        (IdType.OTHER, "ABC", "***"),
        (IdType.OTHER, "A", "*"),
    ],
)
def test_mask_other_ids_keeps_at_most_two_at_each_end(
    id_type: IdType, number: str, masked: str
) -> None:
    assert mask_id(id_type, number) == masked


@given(st.sampled_from([t for t in IdType if t is not IdType.RESIDENT_ID]),
       st.text("ABCDEFGHJ0123456789", max_size=40))
def test_mask_never_reveals_more_than_half(id_type: IdType, number: str) -> None:
    masked = mask_id(id_type, number)
    assert len(masked) == len(number)
    assert 2 * sum(c != "*" for c in masked) <= len(number)


def test_repr_of_a_parsed_id_is_masked() -> None:
    parsed = parse_id(IdType.RESIDENT_ID, WORKED_RESIDENT_ID, TODAY)
    assert WORKED_RESIDENT_ID not in repr(parsed)
    assert "110105********002X" in repr(parsed)


# ---- properties: generated valid numbers -----------------------------------------------------

DIGIT = "0123456789"
regions = st.builds(str.__add__, st.sampled_from(sorted(PROVINCE_CODES)),
                    st.text(DIGIT, min_size=4, max_size=4))
resident_ids = st.builds(
    lambda region, born, seq: region + born.strftime("%Y%m%d") + f"{seq:03d}",
    regions, st.dates(date(1880, 1, 1), TODAY), st.integers(0, 999),
).map(lambda first17: first17 + reference_resident_check(first17))
credit_codes = st.builds(
    lambda authority, category, region, subject: authority + category + region + subject,
    st.sampled_from("123456789ANY"), st.sampled_from(CREDIT_ALPHABET), regions,
    st.text(CREDIT_ALPHABET, min_size=9, max_size=9),
).map(lambda first17: first17 + reference_credit_check(first17))
organization_codes = st.text(ORG_ALPHABET, min_size=8, max_size=8).map(
    lambda body: body + "-" + reference_org_check(body)
)
legacy_ids = st.builds(
    lambda region, born, seq: region + born.strftime("%y%m%d") + f"{seq:03d}",
    regions, st.dates(date(1900, 1, 1), date(1999, 12, 31)), st.integers(0, 999),
)


@given(resident_ids)
def test_valid_resident_ids_round_trip(number: str) -> None:
    assert check_resident_id(number, TODAY) == []
    parsed = parse_id(IdType.RESIDENT_ID, number, TODAY)
    assert parsed.number == number
    assert parsed.birth_date is not None
    assert parsed.birth_date.strftime("%Y%m%d") == number[6:14]
    assert parse_id(IdType.RESIDENT_ID, number.lower(), TODAY).number == number


@given(legacy_ids)
def test_valid_legacy_ids_round_trip_and_upgrade(number: str) -> None:
    parsed = parse_id(IdType.RESIDENT_ID, number, TODAY)
    assert (parsed.number, parsed.legacy) == (number, True)
    upgraded = upgrade_legacy_id(number)
    assert upgraded[:6] + upgraded[8:17] == number
    assert upgraded[6:8] == "19"
    assert check_resident_id(upgraded, TODAY) == []


@given(credit_codes)
def test_valid_credit_codes_round_trip(code: str) -> None:
    assert check_credit_code(code) == []
    assert parse_id(IdType.CREDIT_CODE, code).number == code
    assert parse_id(IdType.CREDIT_CODE, code.lower()).number == code


@given(organization_codes)
def test_valid_organization_codes_round_trip(code: str) -> None:
    assert parse_id(IdType.ORGANIZATION_CODE, code).number == code
    assert parse_id(IdType.ORGANIZATION_CODE, code.replace("-", "")).number == code


@given(resident_ids)
def test_every_single_substitution_in_a_resident_id_is_detected(number: str) -> None:
    for i in range(18):
        for ch in DIGIT + "X":
            if ch == number[i]:
                continue
            mutated = number[:i] + ch + number[i + 1:]
            found = codes(check_resident_id(mutated, TODAY))
            if i < 17 and ch == "X":
                assert "BAD_CHARACTER" in found, mutated
            else:
                assert "BAD_CHECKSUM" in found, mutated


@given(credit_codes)
def test_every_single_substitution_in_a_credit_code_is_detected(code: str) -> None:
    for i in range(18):
        for ch in CREDIT_ALPHABET:
            if ch == code[i]:
                continue
            mutated = code[:i] + ch + code[i + 1:]
            assert "BAD_CHECKSUM" in codes(check_credit_code(mutated)), mutated


# ---- properties: arbitrary input -------------------------------------------------------------

odd_characters = "0123456789XxNY５Ｘ①²٣\u3000 \t\x00\x7f-－漢"
arbitrary_text = st.one_of(
    st.text(),
    st.builds(lambda a, s, b: a + s + b,  # a lone surrogate inside
              st.text(max_size=15), st.characters(categories=["Cs"]), st.text(max_size=15)),
    st.text(odd_characters, max_size=25),
    st.builds(lambda s, n: (s * n)[:10_000],
              st.text(min_size=1, max_size=20), st.integers(1, 10_000)),
    st.builds(lambda n, cut: n[:cut], st.one_of(resident_ids, credit_codes), st.integers(0, 18)),
    st.builds(
        lambda n, i, ch: n[:i] + ch + n[i + 1:],
        st.one_of(resident_ids, credit_codes, organization_codes), st.integers(0, 17),
        st.characters(),
    ),
)


@given(st.sampled_from(list(IdType)), arbitrary_text)
def test_check_id_never_raises_and_returns_problems(id_type: IdType, text: str) -> None:
    problems = check_id(id_type, text, TODAY)
    assert isinstance(problems, list)
    assert all(isinstance(p, Problem) for p in problems)
    for p in problems:  # messages are printable text even for lone surrogates
        (p.message_zh + p.message_en).encode("utf-8")
    if len(text) > 64:
        assert codes(problems) == {"BAD_LENGTH"}


@given(st.sampled_from(list(IdType)), arbitrary_text)
def test_parse_id_raises_only_code_error(id_type: IdType, text: str) -> None:
    try:
        parsed = parse_id(id_type, text, TODAY)
    except CodeError as error:
        assert any(p.severity == "error" for p in error.problems)
    else:
        assert parsed.id_type is id_type
        mask_id(id_type, parsed.number)


@given(arbitrary_text)
def test_helpers_on_arbitrary_text(text: str) -> None:
    assert isinstance(is_collective_economic_org(text), bool)
    with contextlib.suppress(CodeError):
        upgrade_legacy_id(text)
