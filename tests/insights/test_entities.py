"""The entity finders on real-looking strings: valid and invalid checksums, E.164 phones, currencies, dates,
companies by legal form (Latin, Cyrillic and CJK), people from address headers."""

from __future__ import annotations

import time

import pytest

from app.insights import entities as E
from app.review.suggest import DEFAULT_REFERENCE_PATTERNS, compile_patterns

RULES = E.Rules(region="US", references=tuple(compile_patterns(DEFAULT_REFERENCE_PATTERNS)))


def found(text: str, kind: str, rules: E.Rules = RULES) -> list[tuple[str, str]]:
    return [(f.value, f.text) for f in E.extract_text(text, rules) if f.kind == kind]


def values(text: str, kind: str, rules: E.Rules = RULES) -> list[str]:
    return [v for v, _ in found(text, kind, rules)]


def test_offsets_point_at_what_was_written() -> None:
    text = "Wire to DE89 3704 0044 0532 0130 00 today, then mail jane.doe@example.com."
    for f in E.extract_text(text, RULES):
        assert text[f.start : f.end] == f.text


def test_emails() -> None:
    text = "Write to Jane.Doe+leaks@Example.co.uk, not cid:image001.png@01D3A2B4.5C6D7E80 or a@b."
    assert found(text, "email") == [("jane.doe+leaks@example.co.uk", "Jane.Doe+leaks@Example.co.uk")]


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("Call (713) 853-6161 today", "+17138536161"),
        ("Tel. 713.853.6161", "+17138536161"),
        ("ring 1-800-772-1213", "+18007721213"),
        ("London +44 20 7946 0958", "+442079460958"),
        ("Berlin 0049 30 901820", "+4930901820"),
        ("Beijing +86 10 6552 9988", "+861065529988"),
        ("phone: 7138536161", "+17138536161"),
    ],
)
def test_phones_normalised_to_e164(text: str, e164: str) -> None:
    assert values(text, "phone") == [e164]


@pytest.mark.parametrize(
    "text",
    [
        "PO 4500012345 was paid",  # a bare run of digits is an order number
        "on 2001-05-14 and 14.05.2001",  # dates
        "call 555-0100",  # too short
        "(123) 456-7890",  # no such area code
        "IBAN DE89 3704 0044 0532 0130 00",  # claimed by the IBAN
    ],
)
def test_not_phones(text: str) -> None:
    assert values(text, "phone") == []


def test_phone_region_for_national_numbers() -> None:
    assert values("Zentrale 030 901820", "phone", E.Rules(region="DE")) == ["+4930901820"]
    assert E.normalise_phone("+1 (713) 853-6161") == "+17138536161"
    assert E.format_phone("+17138536161") == "+1 713-853-6161"


def test_iban_checksums() -> None:
    text = (
        "Good: DE89 3704 0044 0532 0130 00, GB82WEST12345698765432, FR14 2004 1010 0505 0001 3M02 606. "
        "Bad check digits: DE88 3704 0044 0532 0130 00. Bad length: GB82WEST1234569876543."
    )
    assert values(text, "iban") == [
        "DE89370400440532013000",
        "GB82WEST12345698765432",
        "FR1420041010050500013M02606",
    ]
    assert E.iban_valid("NL91ABNA0417164300") and not E.iban_valid("NL91ABNA0417164301")
    assert E.format_iban("DE89370400440532013000") == "DE89 3704 0044 0532 0130 00"


def test_bics_need_a_label_or_a_digit() -> None:
    assert values("BIC: DEUTDEFF, SWIFT code COBADEFFXXX", "bic") == ["DEUTDEFF", "COBADEFFXXX"]
    assert values("routing via BNPAFRP1XXX", "bic") == ["BNPAFRP1XXX"]
    assert values("THE DOCUMENT IS CONFIDENTIAL", "bic") == []  # capitals alone are words
    assert values("BIC ABCDZZ12", "bic") == []  # ZZ is no country


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("a fee of $1,234,567.89 due", "USD 1234567.89"),
        ("USD 2.5 million", "USD 2500000"),
        ("1.234.567,89 EUR", "EUR 1234567.89"),
        ("€300k upfront", "EUR 300000"),
        ("£5m", "GBP 5000000"),
        ("CHF 1'250.50", "CHF 1250.5"),
        ("US$153 million", "USD 153000000"),
        ("10 dollars", "USD 10"),
        ("RMB 1,000", "CNY 1000"),
        ("合同金额 300万元", "CNY 3000000"),
        ("¥12,000", "JPY 12000"),
    ],
)
def test_money_with_currency(text: str, value: str) -> None:
    assert values(text, "money") == [value]


def test_money_needs_a_currency() -> None:
    assert values("12,000 tonnes and 3.5 percent", "money") == []
    assert E.format_money("USD 1500000") == "USD 1,500,000" and E.format_money("EUR 12.5") == "EUR 12.50"


def test_dates() -> None:
    text = (
        "May 14, 2001; 14 May 2001; 2001-05-14; 05/14/2001; 20.02.2022; 2001年5月14日; 14. März 2002; "
        "1er janvier 2003; 13/13/2001; 2001-02-30; 3.14.15"
    )
    assert values(text, "date") == [
        "2001-05-14",
        "2001-05-14",
        "2001-05-14",
        "2001-05-14",
        "2022-02-20",
        "2001-05-14",
        "2002-03-14",
    ]
    assert values("31/12/1999", "date") == ["1999-12-31"]  # only day-first is a date


def test_urls_and_ips() -> None:
    text = "See http://www.Enron.com/corp/, (www.example.org) and 192.168.1.20; v1.2.3.4.5, 2001:db8::1, 10:30:45"
    assert values(text, "url") == ["http://www.enron.com/corp/", "http://www.example.org"]
    assert values(text, "ip") == ["192.168.1.20", "2001:db8::1"]
    assert values("999.1.1.1 and 1.2.3", "ip") == []


def test_references_use_the_case_patterns() -> None:
    text = "WO-2017-0413, PO 4500012345, Contract No. 2013/HW/118 and Invoice No. 2017-5531"
    assert values(text, "reference") == ["WO-2017-0413", "PO4500012345", "2013/HW/118", "2017-5531"]
    custom = E.Rules(references=tuple(compile_patterns([r"\bCASE-\d{4}\b"])))
    assert values("CASE-2024 and WO-2017-0413", "reference", custom) == ["CASE-2024"]


@pytest.mark.parametrize(
    ("text", "value", "written"),
    [
        (
            "with Panda International Co., Ltd. for",
            "panda international co ltd",
            "Panda International Co., Ltd.",
        ),
        ("paid Panda International Limited in", "panda international ltd", "Panda International Limited"),
        ("to Acme, Inc. last", "acme inc", "Acme, Inc."),
        ("ENRON CORP. AND", "enron corp", "ENRON CORP."),
        ("The Boeing Company said", "boeing co", "Boeing Company"),
        ("Foo Bar LLC;", "foo bar llc", "Foo Bar LLC"),
        ("von der Siemens AG", "siemens ag", "Siemens AG"),
        ("Acme Holdings GmbH & Co. KG", "acme holdings gmbh & co kg", "Acme Holdings GmbH & Co. KG"),
        ("Banco Santander, S.A. y", "banco santander sa", "Banco Santander, S.A."),
        ("ООО «Ромашка»", "ромашка ооо", "ООО «Ромашка»"),
        ("本合同由熊猫国际有限公司签订", "熊猫国际有限公司", "熊猫国际有限公司"),
        ("我们与华为技术有限公司合作", "华为技术有限公司", "华为技术有限公司"),
        ("トヨタ自動車株式会社の", "トヨタ自動車株式会社", "トヨタ自動車株式会社"),
    ],
)
def test_companies_by_legal_form(text: str, value: str, written: str) -> None:
    assert found(text, "company") == [(value, written)]


def test_not_companies() -> None:
    for text in ("in the SE corner", "such AS this", "Inc. and Ltd. alone", "THE BOARD AG MEETING"):
        assert values(text, "company") == [], text
    assert values("Panda Ltd. and Bear Ltd.", "company") == ["panda ltd", "bear ltd"]


def test_people_from_address_headers() -> None:
    header = '"Jeff Skilling" <jeff.skilling@enron.com>, Lay, Kenneth <klay@enron.com>, Sara Shackleton/HOU/ECT@ECT'
    people = [(f.kind, f.value, f.text) for f in E.find_header_people(header)]
    assert people == [
        ("person", "jeff skilling", "Jeff Skilling"),
        ("email", "jeff.skilling@enron.com", "jeff.skilling@enron.com"),
        ("person", "kenneth lay", "Lay, Kenneth"),
        ("email", "klay@enron.com", "klay@enron.com"),
        ("person", "sara shackleton", "Sara Shackleton"),
    ]
    for f in E.find_header_people(header):
        assert header[f.start : f.end] == f.text
    printed = "-----Original Message-----\nFrom: Frevert, Mark\nTo: Kitchen, Louise; Lavorato, John\n"
    assert values(printed, "person") == ["mark frevert", "louise kitchen", "john lavorato"]


def test_query_values_normalise_like_the_finders() -> None:
    assert E.normalise_query("phone", "(713) 853-6161") == "+17138536161"
    assert E.normalise_query("iban", "de89 3704 0044 0532 0130 00") == "DE89370400440532013000"
    assert E.normalise_query("money", "$1.5 million") == "USD 1500000"
    assert E.normalise_query("company", "Panda International Limited") == "panda international ltd"
    assert E.normalise_query("person", "  Jeff   SKILLING ") == "jeff skilling"


def test_extraction_is_cheap_on_a_large_text() -> None:
    block = (
        "On May 14, 2001 Panda International Co., Ltd. wired USD 1,500,000 (invoice No. 2017-5531) to "
        "DE89 3704 0044 0532 0130 00; call (713) 853-6161 or write to jeff.skilling@enron.com. "
        "Quantities 12 34 56 78, totals 1234.56 7890.12, ratios 0.5 0.25, lines of ordinary prose follow "
        "here with nothing else to find in them at all, as most of a document is.\n"
    )
    text = block * 2500  # ~1 MB
    t0 = time.perf_counter()
    out = E.extract_text(text, RULES)
    elapsed = time.perf_counter() - t0
    assert len(out) >= 2500 * 7
    assert elapsed < 8.0, f"{elapsed:.2f} s for {len(text):,} characters"


def test_quick_rule_outs_change_no_find(corpus, monkeypatch) -> None:
    """The searches that rule a text out before the numeric-date, IPv4 and amount-then-currency scans drop
    nothing."""
    import re

    texts = [
        "Due 2017-04-13, paid 13.04.2017, logged 2017/4/13 and 04/13/17 from 10.0.0.1 and 192.168.1.254.",
        "v1.2.3.4 is a version, 1.2.3 too; 300.1.1.1 is no address; 12-1-2019 and 1-12-2019",
        "no numbers here at all",
        "1,500 USD, 2.5 million euros, 300 EUROS, 40 Rupees, 7 roubles, 8 Yen, 9 円, 100元, 12 €, 5 DOLLARſ",
        "1,500 usd is no code; 20 XUSD; 30 pounds sterling; 45,000 Yuan",
    ]
    for path in sorted((corpus / "real").rglob("*")):
        if (
            path.suffix.lower() in (".txt", ".csv", ".eml", ".html", ".htm")
            and path.stat().st_size < 2_000_000
        ):
            texts.append(path.read_text("utf-8", "replace"))
    assert len(texts) > 20

    def finds(text: str) -> list:
        return list(E.find_dates(text)) + list(E.find_ips(text)) + list(E.find_money(text))

    with_rule_outs = [finds(t) for t in texts]
    always = re.compile("")  # a search that always succeeds: every scan runs
    monkeypatch.setattr(E, "_NUMERIC_DATE_HINT", always)
    monkeypatch.setattr(E, "_IPV4_HINT", always)
    monkeypatch.setattr(E, "_currency_after_possible", lambda text: True)
    assert [finds(t) for t in texts] == with_rule_outs
    assert sum(len(f) for f in with_rule_outs) > 50
