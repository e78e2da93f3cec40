"""Finding entities in text: pure functions from a string to mentions, with no database and no state.

Each finder returns `Found(kind, value, text, start, end)`: `value` is the normalised form entities are
grouped and searched by (E.164 phone numbers, upper-case IBANs without spaces, lower-case addresses, ISO
dates, "USD 1500000", folded company names with a canonical legal form), `text` is what was written and
`start`/`end` are offsets into the string given.

Everything is compiled regular expressions plus cheap checks on each candidate (checksums, libphonenumber
validity, calendar dates); nothing walks a text character by character in Python. `extract_text` runs
them all over one text and resolves overlaps (an IBAN is not also a phone number).
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from email.utils import getaddresses
from typing import Protocol

from app.insights import KINDS
from app.patterns import BoundaryFirst
from index.analysis import fold

__all__ = ["KINDS", "Found", "Rules", "extract_text"]

# Bump when a finder changes: documents computed by an older version are recomputed after the next import.
RULES_VERSION = "rules-1"

NAME_KINDS = ("person", "org", "company", "place")


@dataclass(frozen=True, slots=True)
class Found:
    kind: str
    value: str  # normalised
    text: str  # as written
    start: int
    end: int


_SPACES = re.compile(r"\s+")
_WORDS = re.compile(r"[^\W_]+")


def name_key(text: str) -> str:
    """The normalised form of a name: folded words separated by single spaces."""
    return " ".join(_WORDS.findall(fold(text)))


def _word_before(text: str, i: int) -> bool:
    """Whether a letter, digit or underscore comes right before offset `i` (a match inside a word)."""
    return i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")


def _tidy(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


# -- email addresses ---------------------------------------------------------------------------------

# Scanning from the "@" (rare) and reading the local part backwards is much cheaper than trying every word.
_EMAIL_DOMAIN = re.compile(r"@(?:[\w-]{1,63}\.)+[^\W\d_]{2,24}(?![\w-]|\.\w)")
_EMAIL_LOCAL = re.compile(r"[\w.+'-]{1,64}$")


def normalise_email(text: str) -> str:
    return fold(text.strip().strip("<>.").strip())


def find_emails(text: str) -> Iterator[Found]:
    if "@" not in text:
        return
    for m in _EMAIL_DOMAIN.finditer(text):
        local = _EMAIL_LOCAL.search(text, max(0, m.start() - 64), m.start())
        if local is None:
            continue
        start = local.start() + (len(local.group(0)) - len(local.group(0).lstrip(".'-")))
        raw = text[start : m.end()]
        if raw.startswith("@") or ".." in raw:
            continue
        yield Found("email", normalise_email(raw), raw, start, m.end())


# -- phone numbers (libphonenumber) ------------------------------------------------------------------

# A run of digits with the separators phone numbers are written with; libphonenumber decides the rest.
_PHONE_CANDIDATE = re.compile(r"(?:\+|\(|\d)[\d \u00a0().\-]{5,22}\d(?![\w]|[.,/-]\d)")
_PHONE_KEYWORD = re.compile(r"(?:tel|phone|fax|mobile|cell|mob|ph|t|f|m)\b\.?[\s:#]*$", re.IGNORECASE)
_DATE_LIKE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$|^\d{4}-\d{2}-\d{2}")
_NOT_DIGIT = re.compile(r"\D")
_DOUBLE_SEP = re.compile(r"[ .\-]{3,}|\.\.|\)\(")


def normalise_phone(text: str, region: str = "US") -> str | None:
    """E.164 (`+17138536161`) when libphonenumber finds a valid number in `text`, else None."""
    import phonenumbers

    try:
        number = phonenumbers.parse(text, region or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    import phonenumbers

    try:
        return phonenumbers.format_number(
            phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
    except phonenumbers.NumberParseException:
        return e164


def find_phones(text: str, region: str = "US") -> Iterator[Found]:
    import phonenumbers

    for m in _PHONE_CANDIDATE.finditer(text):
        if m.start() and (_word_before(text, m.start()) or text[m.start() - 1] in "+.,/-"):
            continue
        raw = m.group(0).rstrip(" (.-\u00a0")
        if raw.count("(") != raw.count(")"):
            raw = raw.lstrip("(") if raw.startswith("(") and raw.count("(") > raw.count(")") else raw
            if raw.count("(") != raw.count(")"):
                continue
        digits = len(_NOT_DIGIT.sub("", raw))
        if digits < 7 or digits > 15 or _DOUBLE_SEP.search(raw) or _DATE_LIKE.match(raw):
            continue
        international = raw.startswith(("+", "00"))
        if not international and digits == len(raw):
            # A bare run of digits is an account or order number unless a label says otherwise.
            if not _PHONE_KEYWORD.search(text[max(0, m.start() - 12) : m.start()]):
                continue
        try:
            number = phonenumbers.parse("+" + raw[2:] if raw.startswith("00") else raw, region or None)
        except phonenumbers.NumberParseException:
            continue
        if not phonenumbers.is_valid_number(number):
            continue
        start = m.start()
        yield Found(
            "phone",
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
            raw,
            start,
            start + len(raw),
        )


# -- IBAN and BIC ------------------------------------------------------------------------------------

# ISO 13616 lengths by country (SWIFT IBAN registry).
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
    "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
    "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip

_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b")
_IBAN_SCAN = BoundaryFirst(_IBAN)  # the same matches, found sooner
_IBAN_TABLE = {ord(c): str(ord(c) - 55) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


def iban_valid(value: str) -> bool:
    """ISO 13616: known country, its length, and the mod-97 check digits."""
    value = value.replace(" ", "").upper()
    if IBAN_LENGTHS.get(value[:2]) != len(value) or not value.isalnum():
        return False
    return int((value[4:] + value[:4]).translate(_IBAN_TABLE)) % 97 == 1


def format_iban(value: str) -> str:
    return " ".join(value[i : i + 4] for i in range(0, len(value), 4))


def find_ibans(text: str) -> Iterator[Found]:
    for m in _IBAN_SCAN.finditer(text):
        raw = m.group(0)
        value = raw.replace(" ", "")
        if len(value) not in IBAN_LENGTHS.values():
            # The pattern can take a following group of letters/digits: try the registered length.
            want = IBAN_LENGTHS.get(value[:2])
            if not want or len(value) < want:
                continue
            value = value[:want]
            cut, count = 0, 0
            while count < want:  # map back to a length in the raw text (a few characters at most)
                count += raw[cut] != " "
                cut += 1
            raw = raw[:cut]
        if iban_valid(value):
            yield Found("iban", value, raw, m.start(), m.start() + len(raw))


_BIC = re.compile(r"\b([A-Z]{4})([A-Z]{2})([A-Z0-9]{2})([A-Z0-9]{3})?\b")
_BIC_SCAN = BoundaryFirst(_BIC)
_BIC_KEYWORD = re.compile(r"(?:BIC|SWIFT|S\.W\.I\.F\.T\.)(?:[\s-]*(?:code|address|no\.?))?[\s:#]*$", re.I)


def _regions() -> frozenset[str]:
    import phonenumbers

    return frozenset(phonenumbers.SUPPORTED_REGIONS)


def bic_valid(value: str) -> bool:
    """ISO 9362 shape with a real country code (BICs carry no checksum)."""
    m = _BIC.fullmatch(value.upper())
    return bool(m) and m.group(2) in _regions()


def find_bics(text: str) -> Iterator[Found]:
    """BICs next to a `BIC`/`SWIFT` label, or with a digit in the location code (capitals alone are words)."""
    regions = None
    for m in _BIC_SCAN.finditer(text):
        raw = m.group(0)
        labelled = bool(_BIC_KEYWORD.search(text[max(0, m.start() - 24) : m.start()]))
        if not labelled and not any(ch.isdigit() for ch in raw[6:]):
            continue
        regions = regions or _regions()
        if m.group(2) not in regions:
            continue
        yield Found("bic", raw, raw, m.start(), m.end())


# -- money ---------------------------------------------------------------------------------------------

_SYMBOLS = {
    "us$": "USD", "u.s.$": "USD", "$": "USD", "c$": "CAD", "ca$": "CAD", "a$": "AUD", "au$": "AUD",
    "hk$": "HKD", "s$": "SGD", "nz$": "NZD", "r$": "BRL", "€": "EUR", "£": "GBP", "¥": "JPY", "￥": "CNY",
    "元": "CNY", "円": "JPY", "₹": "INR", "₽": "RUB", "₩": "KRW", "₺": "TRY", "₴": "UAH", "₪": "ILS",
    "fr.": "CHF", "rmb": "CNY", "dollars": "USD", "dollar": "USD", "euros": "EUR", "euro": "EUR",
    "pounds": "GBP", "pound": "GBP", "yuan": "CNY", "yen": "JPY", "rupees": "INR", "roubles": "RUB",
    "rubles": "RUB",
}  # fmt: skip
CURRENCY_CODES = (
    "USD EUR GBP CHF JPY CNY HKD CAD AUD NZD SGD INR RUB BRL ZAR SEK NOK DKK PLN CZK HUF TRY AED SAR KRW "
    "MXN ILS TWD THB MYR IDR PHP NGN KES EGP UAH KZT QAR KWD BHD OMR RON BGN HRK ISK CLP COP PEN ARS VND PKR"
).split()
_CODE = "|".join(CURRENCY_CODES)
_SYM = r"US\$|U\.S\.\$|C\$|CA\$|A\$|AU\$|HK\$|S\$|NZ\$|R\$|\$|€|£|¥|￥|₹|₽|₩|₺|₴|₪|Fr\.|RMB"
_NUM = (
    r"\d(?:\d{0,2}(?:(?:,\d{3})+|(?:\.\d{3})+|(?:'\d{3})+|(?:[\u00a0\u202f ]\d{3})+)(?:[.,]\d{1,2})?(?!\d)"
    r"|\d*(?:[.,]\d{1,2})?(?!\d))"
)
_SCALE = (
    r"(?:[ \u00a0]?(?:million|mln|mio\.?|mn|billion|bn|thousand|trillion)\b|(?:m|bn|b|k)\b|[ \u00a0]?[万亿])"
)
# Each pattern starts with a character class (fast to scan for); word boundaries are checked afterwards.
_CODE_WORD = "|".join(code + r"\b" for code in CURRENCY_CODES)
_MONEY_BEFORE = re.compile(rf"({_SYM}|{_CODE_WORD})[ \u00a0]?({_NUM})((?i:{_SCALE}))?")
_MONEY_AFTER = re.compile(
    rf"({_NUM})((?i:{_SCALE}))?[ \u00a0]?((?:{_CODE})\b|(?i:dollars?|euros?|pounds?|yuan|yen|rupees|r[uo]bles)\b|"
    r"元|円|€)"
)
_SCALES = {
    "thousand": 10**3, "k": 10**3, "million": 10**6, "mln": 10**6, "mio": 10**6, "mio.": 10**6,
    "mn": 10**6, "m": 10**6, "billion": 10**9, "bn": 10**9, "b": 10**9, "trillion": 10**12,
    "万": 10**4, "亿": 10**8,
}  # fmt: skip


def parse_amount(number: str) -> Decimal | None:
    """`1,234,567.89`, `1.234.567,89`, `1'234.50`, `1 234,5` → Decimal (the last separator before one or
    two digits is the decimal point; a separator before three digits groups thousands)."""
    s = number.replace("\u00a0", " ").replace("\u202f", " ").replace("'", ",").replace(" ", ",")
    last = max(s.rfind(","), s.rfind("."))
    if last >= 0 and len(s) - last - 1 in (1, 2):
        whole, frac = s[:last], s[last + 1 :]
    else:
        whole, frac = s, ""
    whole = whole.replace(",", "").replace(".", "")
    try:
        return Decimal(f"{whole}.{frac}" if frac else whole)
    except InvalidOperation:
        return None


def _plain(amount: Decimal) -> str:
    text = format(amount.normalize(), "f")
    return text


def money_value(code: str, amount: Decimal) -> str:
    return f"{code} {_plain(amount)}"


def format_money(value: str) -> str:
    code, _, amount = value.partition(" ")
    try:
        dec = Decimal(amount)
    except InvalidOperation:
        return value
    return f"{code} {dec:,.2f}" if dec != dec.to_integral() else f"{code} {dec:,.0f}"


def normalise_money(text: str) -> str | None:
    """`$1.5 million` → `USD 1500000` (None when `text` is not an amount with a currency)."""
    found = next(find_money(text), None)
    return found.value if found else None


def _currency(token: str) -> str:
    token = token.strip()
    upper = token.upper()
    return upper if upper in CURRENCY_CODES else _SYMBOLS.get(token.lower(), upper)


# What an amount written before its currency needs somewhere in the text: a currency code (case-sensitive,
# as in _MONEY_AFTER), one of the currency words (case-insensitive: none of their letters but "s" folds to
# another character, and these stems leave the "s" out) or a currency sign. One quick look rules out most
# texts before the scan that tries every digit.
_CODES_ANYWHERE = re.compile(_CODE)
_CURRENCY_WORD_STEMS = ("dollar", "euro", "pound", "yuan", "yen", "rupee", "ruble", "rouble")


def _currency_after_possible(text: str) -> bool:
    if "元" in text or "円" in text or "€" in text or _CODES_ANYWHERE.search(text):
        return True
    low = text.lower()
    return any(stem in low for stem in _CURRENCY_WORD_STEMS)


def find_money(text: str) -> Iterator[Found]:
    seen: list[tuple[int, int]] = []
    for m in _MONEY_BEFORE.finditer(text):
        if m.start() and (text[m.start() - 1].isalnum() or text[m.start() - 1] in "$€£¥_"):
            continue
        amount = parse_amount(m.group(2))
        if amount is None:
            continue
        scale = (m.group(3) or "").strip().lower()
        if scale:
            amount *= _SCALES.get(scale, 1)
        seen.append(m.span())
        yield Found("money", money_value(_currency(m.group(1)), amount), m.group(0), m.start(), m.end())
    for m in _MONEY_AFTER.finditer(text) if _currency_after_possible(text) else ():
        if any(a < m.end() and m.start() < b for a, b in seen):
            continue
        if m.start() and (text[m.start() - 1].isalnum() or text[m.start() - 1] in "_.,'"):
            continue
        amount = parse_amount(m.group(1))
        if amount is None:
            continue
        scale = (m.group(2) or "").strip().lower()
        if scale:
            amount *= _SCALES.get(scale, 1)
        yield Found("money", money_value(_currency(m.group(3)), amount), m.group(0), m.start(), m.end())


# -- dates ---------------------------------------------------------------------------------------------

_MONTHS = {
    "jan": 1, "january": 1, "januar": 1, "janvier": 1, "enero": 1, "feb": 2, "february": 2, "februar": 2,
    "février": 2, "fevrier": 2, "febrero": 2, "mar": 3, "march": 3, "märz": 3, "maerz": 3, "mars": 3,
    "marzo": 3, "apr": 4, "april": 4, "avril": 4, "abril": 4, "may": 5, "mai": 5, "mayo": 5, "jun": 6,
    "june": 6, "juni": 6, "juin": 6, "junio": 6, "jul": 7, "july": 7, "juli": 7, "juillet": 7, "julio": 7,
    "aug": 8, "august": 8, "août": 8, "aout": 8, "agosto": 8, "sep": 9, "sept": 9, "september": 9,
    "septembre": 9, "septiembre": 9, "oct": 10, "october": 10, "oktober": 10, "octobre": 10, "octubre": 10,
    "nov": 11, "november": 11, "novembre": 11, "noviembre": 11, "dec": 12, "december": 12, "dezember": 12,
    "décembre": 12, "decembre": 12, "diciembre": 12,
}  # fmt: skip
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?![\d\-/]|\.\d)")
_DATE_YMD = re.compile(r"(\d{4})([./])(\d{1,2})\2(\d{1,2})(?![\d./]|-\d)")
_DATE_NUM = re.compile(r"(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})(?![\d\-/]|\.\d)")
# Month-name dates start with a character class, not a 70-way alternation (which the regex engine would try
# at every position); the month word is looked up afterwards.
_DATE_DMY = re.compile(
    r"(\d{1,2})(?:st|nd|rd|th)?\.?[ \u00a0]+(?:de[ ]+)?([^\W\d_]{3,10})\.?,?[ \u00a0]+(?:de[ ]+)?(\d{4})(?!\d)"
)
_DATE_MDY = re.compile(r"([^\W\d_]{3,10})\.?[ \u00a0]+(\d{1,2})(?:st|nd|rd|th)?,?[ \u00a0]+(\d{4})(?!\d)")
_YEAR = re.compile(r"(?:1[89]|2[01])\d\d(?!\d)")
# Every match of the three numeric patterns above holds a separator, one or two digits, the same kind of
# separator and a digit: a text without that has none of them (and is ruled out by one quick search).
_NUMERIC_DATE_HINT = re.compile(r"[./-]\d{1,2}[./-]\d")
_DATE_CJK = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
MIN_YEAR, MAX_YEAR = 1900, 2100


def _iso(y: int, m: int, d: int) -> str | None:
    if not MIN_YEAR <= y <= MAX_YEAR:
        return None
    try:
        return date(y, m, d).isoformat()
    except ValueError:
        return None


def find_dates(text: str) -> Iterator[Found]:
    """Calendar dates, as ISO `YYYY-MM-DD`. Numeric day/month order: `.` is day first (20.02.2022),
    `/` and `-` month first (05/14/2001) unless only the other order is a valid date."""
    spans: list[tuple[int, int]] = []

    def emit(iso: str | None, m: re.Match[str]) -> Iterator[Found]:
        if m.start() and text[m.start() - 1] in "0123456789.-/":
            return
        if iso and not any(a < m.end() and m.start() < b for a, b in spans):
            spans.append(m.span())
            yield Found("date", iso, m.group(0), m.start(), m.end())

    numeric = _NUMERIC_DATE_HINT.search(text) is not None
    for m in _DATE_ISO.finditer(text) if numeric else ():
        yield from emit(_iso(int(m.group(1)), int(m.group(2)), int(m.group(3))), m)
    for m in _DATE_YMD.finditer(text) if numeric else ():
        yield from emit(_iso(int(m.group(1)), int(m.group(3)), int(m.group(4))), m)
    for m in _DATE_NUM.finditer(text) if numeric else ():
        a, sep, b, y = int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)
        year = int(y) if len(y) == 4 else (2000 + int(y) if int(y) < 50 else 1900 + int(y))
        if sep == ".":
            iso = _iso(year, b, a) or None
        else:
            iso = _iso(year, a, b) or _iso(year, b, a)
        yield from emit(iso, m)
    # Month names: only just before a four-digit year (far fewer places to try than every word).
    done = 0
    for y in _YEAR.finditer(text):
        lo, hi = max(done, y.start() - 26), y.end()
        for m in _DATE_DMY.finditer(text, lo, hi):
            month = _MONTHS.get(m.group(2).lower())
            if month and not _word_before(text, m.start()):
                yield from emit(_iso(int(m.group(3)), month, int(m.group(1))), m)
        for m in _DATE_MDY.finditer(text, lo, hi):
            month = _MONTHS.get(m.group(1).lower())
            if month and not _word_before(text, m.start()):
                yield from emit(_iso(int(m.group(3)), month, int(m.group(2))), m)
        done = hi
    if "年" in text:
        for m in _DATE_CJK.finditer(text):
            yield from emit(_iso(int(m.group(1)), int(m.group(2)), int(m.group(3))), m)


# -- URLs and IP addresses -----------------------------------------------------------------------------

_URL = re.compile(r"(?:[hH][tT][tT][pP][sS]?://|[fF][tT][pP]://|[wW][wW][wW]\.)[^\s<>\"'\[\]{}|\\^`]{2,2000}")
_URL_TRAIL = ".,;:!?)'\"»”’>"


def normalise_url(text: str) -> str:
    url = text.strip()
    if url.lower().startswith("www."):
        url = "http://" + url
    scheme, sep, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    host = host.lower()
    if scheme.lower() == "http" and host.endswith(":80"):
        host = host[:-3]
    elif scheme.lower() == "https" and host.endswith(":443"):
        host = host[:-4]
    out = f"{scheme.lower()}{sep}{host}{slash}{path}"
    return out.rstrip("/") if not path or path == "" else out


def find_urls(text: str) -> Iterator[Found]:
    if "://" not in text and "www." not in text.lower():
        return
    for m in _URL.finditer(text):
        if _word_before(text, m.start()):
            continue
        raw = m.group(0)
        while raw and raw[-1] in _URL_TRAIL:
            if raw[-1] == ")" and raw.count("(") >= raw.count(")"):
                break
            raw = raw[:-1]
        if len(raw) < 8 or "." not in raw:
            continue
        yield Found("url", normalise_url(raw), raw, m.start(), m.start() + len(raw))


_IPV4 = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\d]|\.\d)")
# Every dotted quad holds ".1-3 digits.1-3 digits.": a search that starts at a dot (fast) rules most texts out.
_IPV4_HINT = re.compile(r"\.\d{1,3}\.\d{1,3}\.")
_IPV6 = re.compile(r"(?:[0-9A-Fa-f]{1,4}|:)(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")


def find_ips(text: str) -> Iterator[Found]:
    ipv4 = _IPV4.finditer(text) if _IPV4_HINT.search(text) else ()
    for m in ipv4:
        if m.start() and text[m.start() - 1] in "0123456789.":
            continue
        try:
            addr = ipaddress.IPv4Address(m.group(0))
        except ValueError:
            continue
        yield Found("ip", str(addr), m.group(0), m.start(), m.end())
    if "::" in text or text.count(":") >= 7:
        for m in _IPV6.finditer(text):
            raw = m.group(0)
            if raw.count(":") < 7 and "::" not in raw:
                continue
            if m.start() and (text[m.start() - 1].isalnum() or text[m.start() - 1] in "_:"):
                continue
            try:
                addr = ipaddress.IPv6Address(raw)
            except ValueError:
                continue
            yield Found("ip", addr.compressed, raw, m.start(), m.end())


# -- reference numbers (the case's patterns) ----------------------------------------------------------


def normalise_reference(raw: str) -> str:
    return _SPACES.sub("", raw.upper()).rstrip(".")


class PatternLike(Protocol):
    """A compiled pattern (`re.Pattern`, or `app.patterns.BoundaryFirst`)."""

    def finditer(self, text: str) -> Iterator[re.Match[str]]: ...


def find_references(text: str, patterns: Sequence[PatternLike]) -> Iterator[Found]:
    """The case's work-order/contract/invoice patterns (`reference_patterns`; group 1 or the whole match)."""
    for pattern in patterns:
        for m in pattern.finditer(text):
            group = 1 if m.groups() and m.group(1) else 0
            raw = m.group(group)
            value = normalise_reference(raw)
            if len(value) >= 5:
                yield Found("reference", value, raw, m.start(group), m.end(group))


# -- companies by legal form ---------------------------------------------------------------------------

# Forms that are also ordinary short words or abbreviations: the name before them must be in mixed case.
_SHORT_FORMS = {"ag", "kg", "se", "sa", "as", "ab", "nv", "bv", "lp", "oy", "spa", "srl", "bhd", "aps", "asa"}
_FORM_ALIASES = {
    "limited": "ltd", "incorporated": "inc", "corporation": "corp", "company": "co",
    "company limited": "co ltd", "l l c": "llc", "l p": "lp", "p l c": "plc", "s a": "sa", "b v": "bv",
    "n v": "nv", "s p a": "spa", "s r l": "srl", "s a s": "sas", "s a r l": "sarl", "s a r l.": "sarl",
    "s l": "sl", "k k": "kk", "a s": "as", "e k": "ek",
}  # fmt: skip
_FORMS = [
    r"Co\.?,?[ ]?Ltd\b\.?", r"Company[ ]Limited\b", r"Pty\.?[ ]?Ltd\b\.?", r"Pte\.?[ ]?Ltd\b\.?",
    r"Sdn\.?[ ]?Bhd\b\.?", r"Ltd\b\.?", r"LTD\b\.?", r"Limited\b", r"LIMITED\b", r"L\.L\.C\.", r"LLC\b",
    r"LLP\b", r"L\.P\.", r"LP\b", r"P\.L\.C\.", r"PLC\b", r"plc\b", r"Inc\b\.?", r"INC\b\.?",
    r"Incorporated\b", r"Corp\b\.?", r"CORP\b\.?", r"Corporation\b", r"CORPORATION\b", r"Co\.",
    r"Company\b", r"COMPANY\b", r"GmbH[ ]?&[ ]?Co\.?[ ]?KG\b", r"gGmbH\b", r"GmbH\b", r"KGaA\b", r"AG\b",
    r"KG\b", r"SE\b", r"e\.K\.", r"S\.A\.S\.", r"S\.A\.R\.L\.", r"SARL\b", r"S\.à[ ]?r\.l\.",
    r"S\.A\.[ ]de[ ]C\.V\.", r"S\.A\.", r"SA\b", r"S\.p\.A\.", r"SpA\b", r"S\.r\.l\.", r"Srl\b",
    r"S\.L\.", r"B\.V\.", r"BV\b", r"N\.V\.", r"NV\b", r"A/S\b", r"ASA\b", r"AS\b", r"AB\b", r"Oyj\b",
    r"Oy\b", r"ApS\b", r"Sp\.[ ]?z[ ]?o\.o\.", r"s\.r\.o\.", r"a\.s\.", r"Kft\.", r"Zrt\.", r"d\.o\.o\.",
    r"K\.K\.", r"Bhd\b\.?", r"JSC\b", r"PJSC\b", r"OJSC\b", r"CJSC\b",
]  # fmt: skip
_FORM_RE = re.compile(r"(?:" + "|".join(_FORMS) + r")(?![^\W\d_])")
_FORM_HINT = re.compile(
    r"Ltd|LTD|Limited|LIMITED|L\.?L\.?[CP]|PLC|plc|Inc|INC|Corp|CORP|Co\.|Company|COMPANY|GmbH|AG\b|KG|SE\b|"
    r"S\.|SA\b|SpA|Srl|SARL|B\.?V|N\.?V|A/S|AS\b|AB\b|Oy|ApS|Sp\.|s\.r\.o|a\.s\.|Kft|Zrt|d\.o\.o|K\.K|Bhd|JSC"
)
_NAME_TOKEN = re.compile(r"[^ \t]+")
# A word and a full stop ends a sentence; abbreviations (Intl., Bros., U.S.) and initials do not.
_SENTENCE_END = re.compile(
    r"(?!(?:Intl|Int'l|Natl|Bros|Mfg|Assn|Assoc|Corp|Dept|Univ|Inst|Svcs|Mgmt|Hldgs|Grp|Ind|Co|St|Mt|Dr)\.$)"
    r"[^\W\d_][^\W\d_.]{3,}\.$"
)
_CONNECTORS = {"&", "and", "of", "for", "the", "de", "du", "des", "del", "della", "di", "la", "le", "van",
               "von", "der", "den", "und", "y", "e", "et", "+"}  # fmt: skip
_LEADING_STOP = {
    "the", "a", "an", "and", "or", "of", "to", "from", "by", "with", "between", "for", "at", "on", "in",
    "dear", "re", "fw", "fwd", "subject", "cc", "attn", "mr", "mrs", "ms", "dr", "this", "that", "our",
    "your", "their", "its", "his", "her", "we", "i", "you", "they", "he", "she", "it", "is", "was", "are",
    "per", "via", "vs", "all", "each", "any", "new", "said", "yesterday", "today", "tomorrow", "when",
    "if", "as", "contact", "client", "customer", "supplier", "seller", "buyer", "party", "parties",
    "und", "der", "die", "das", "le", "la", "les", "el", "los", "copyright", "©", "(c)", "c)",
}  # fmt: skip
_YEARS = re.compile(r"^(?:©|\(c\))?(?:1[89]|20)\d\d(?:[-–](?:(?:1[89]|20)\d\d|\w+))?,?$")
_CJK_COMPANY = re.compile(
    r"([\u4e00-\u9fff\u30a0-\u30ff（）()]{2,30}?)(股份有限公司|有限责任公司|有限責任公司|有限公司|集团公司|集團公司|株式会社)"
)
# Characters that end a clause before a company name (there are no spaces to find the name's start).
_CJK_STOP = re.compile(r".*[与與及、的在是由向给給對对被从從把将將同跟于於，。：；（(\s]")
_JP_PREFIX = re.compile(r"株式会社([\u30a0-\u30ff\u4e00-\u9fff]{1,20})")
_RU_PREFIX = re.compile(r"(ООО|ОАО|ЗАО|ПАО|АО|OOO|ТОВ|ПрАТ)\s*[«\"„“]([^»\"“”\n]{2,60})[»\"“”]")


def company_key(name: str, form: str) -> str:
    form_key = " ".join(re.findall(r"[^\W_]+|&", fold(form).replace(".", " ")))
    form_key = re.sub(r"\b(\w) (?=\w\b)", r"\1", form_key) if len(form_key) <= 12 else form_key
    form_key = _FORM_ALIASES.get(form_key, form_key)
    return f"{name_key(name)} {form_key}".strip()


def _name_before(text: str, end: int, short_form: bool, floor: int = 0) -> tuple[int, str] | None:
    """The capitalised words right before a legal form on the same line: (start, name) or None."""
    lo = max(0, floor, end - 120)
    nl = text.rfind("\n", lo, end)
    lo = nl + 1 if nl >= 0 else lo
    tokens = list(_NAME_TOKEN.finditer(text, lo, end))
    if tokens and lo > 0 and nl < 0 and not text[lo - 1].isspace():
        tokens = tokens[1:]  # the window cut a word in two
    picked: list[re.Match[str]] = []
    for tok in reversed(tokens):
        word = tok.group(0).strip("\"'“”‘’«»()[]")
        if not word or word[-1] in ":;!?|":
            break
        if word.endswith(","):
            if picked:  # "Paris, Acme Inc.": the name starts after the comma
                break
            word = word[:-1]  # "Acme, Inc."
        if picked and word.endswith(".") and _SENTENCE_END.match(word):
            break  # "Done. Panda Ltd.": the name starts after the full stop
        if word[:1].isupper() or word[:1].isdigit() or (picked and word.lower() in _CONNECTORS):
            picked.append(tok)
            if len(picked) >= 6:
                break
            continue
        break
    picked.reverse()
    while picked and (
        picked[0].group(0).strip("\"'“”«»(").lower().rstrip(".:,") in (_LEADING_STOP | _CONNECTORS)
        or _YEARS.match(picked[0].group(0))
    ):
        picked.pop(0)
    if not picked:
        return None
    start = picked[0].start()
    raw = text[start : picked[-1].end()]
    name = raw.strip(" ,\"'“”«»(")
    if len(name) < 2 or not any(ch.isalpha() for ch in name):
        return None
    if short_form and not any(ch.islower() for ch in name):
        return None
    return start + raw.index(name), name


def find_companies(text: str) -> Iterator[Found]:
    if _FORM_HINT.search(text):
        floor = 0
        for m in _FORM_RE.finditer(text):
            if m.start() and (_word_before(text, m.start()) or text[m.start() - 1] == "&"):
                continue
            form = m.group(0)
            short = form.lower().rstrip(".") in _SHORT_FORMS
            got = _name_before(text, m.start(), short, floor)
            floor = m.end()  # a name never reaches back over the previous legal form
            if got is None:
                continue
            start, name = got
            raw = text[start : m.end()]
            yield Found("company", company_key(name, form), raw, start, m.end())
    if "公司" in text or "会社" in text:
        for m in _CJK_COMPANY.finditer(text):
            name = m.group(1)
            cut = _CJK_STOP.match(name)
            if cut:
                name = name[cut.end() :]
            if len(name) < 2:
                continue
            start = m.end(1) - len(name)
            yield Found("company", name + m.group(2), text[start : m.end()], start, m.end())
        for m in _JP_PREFIX.finditer(text):
            before = text[m.start() - 1] if m.start() else ""
            if not ("\u30a0" <= before <= "\u30ff" or "\u4e00" <= before <= "\u9fff"):  # not a suffix
                yield Found("company", m.group(0), m.group(0), m.start(), m.end())
    if "«" in text or '"' in text or "„" in text or "“" in text:
        for m in _RU_PREFIX.finditer(text):
            if _word_before(text, m.start()):
                continue
            yield Found("company", company_key(m.group(2), m.group(1)), m.group(0), m.start(), m.end())


# -- people from email headers ---------------------------------------------------------------------

_LOTUS = re.compile(r"^([^/@<>]+?)/[A-Z0-9/]+@[A-Z0-9]+$")
_HEADER_LINE = re.compile(
    r"(?m)^[ \t>]*(From|To|Cc|CC|Bcc|Sent by|Von|An|De|À|Para)[ \t]*:[ \t]*(.{3,2000})$"
)


def person_name(name: str) -> str | None:
    """A display name from an address header, `Last, First` turned around; None for non-names."""
    name = _tidy(name.strip("\"' "))
    lotus = _LOTUS.match(name)
    if lotus:
        name = lotus.group(1).strip()
    if not name or "@" in name or not any(ch.isalpha() for ch in name):
        return None
    if name.count(",") == 1:
        last, first = (p.strip() for p in name.split(","))
        if last and first and " " not in last:
            name = f"{first} {last}"
    if len(name) > 80 or "," in name or (" " not in name and name.islower()):
        return None
    return name


_ADDRESS = re.compile(r"[\w.+'-]{1,64}@(?:[\w-]{1,63}\.)+[^\W\d_]{2,24}")
_LAST_FIRST = re.compile(r"(?<![^,;\s])([^,;<>\"@]+),[ \t]*([^,;<>\"@]+?)[ \t]*(<[^<>]+>)")


_SEGMENT = re.compile(r"[^;]+")


def find_header_people(value: str) -> Iterator[Found]:
    """People and addresses in one address header value (`"Jeff Skilling" <jeff@enron.com>, …`, or
    Outlook's `Kitchen, Louise; Lavorato, John`)."""
    if "@" in value or "<" in value:
        yield from _addressed_people(value)
        return
    for seg in _SEGMENT.finditer(value):
        pieces = [seg]
        if seg.group(0).count(",") != 1:  # "Mark Frevert, Louise Kitchen": several names
            pieces = list(re.finditer(r"[^,]+", seg.group(0)))
            offset = seg.start()
        else:
            offset = 0
        for piece in pieces:
            raw = piece.group(0).strip()
            name = person_name(raw) if raw else None
            if name and " " in name and name[0].isupper():
                at = offset + piece.start() + piece.group(0).index(raw)
                yield Found("person", name_key(name), raw, at, at + len(raw))


def _addressed_people(value: str) -> Iterator[Found]:
    pos = 0
    # `Lay, Kenneth <klay@enron.com>` is one person, not two addresses: quote it for the parser.
    quoted = _LAST_FIRST.sub(lambda m: f'"{m.group(1).strip()}, {m.group(2)}" {m.group(3)}', value)
    for name, addr in getaddresses([quoted]):
        addr = addr.strip()
        found_addr = None
        if _ADDRESS.fullmatch(addr):
            at = value.find(addr, pos)
            if at >= 0:
                found_addr = Found("email", normalise_email(addr), addr, at, at + len(addr))
        display = person_name(name) if name else None
        if display is None and name and _LOTUS.match(_tidy(name)):
            display = person_name(name)
        if display is None and not name and "/" in addr and "@" in addr:
            display = person_name(addr)
        if display:
            raw = name.strip("\"' ") if name else addr
            lotus = _LOTUS.match(_tidy(raw))
            if lotus:
                raw = lotus.group(1).strip()
            at = value.find(raw, pos)
            if at < 0:
                at = max(0, value.find(display, pos))
                raw = display if value.find(display, pos) >= 0 else value[at : at + len(raw)]
            yield Found("person", name_key(display), raw, at, at + len(raw))
            pos = at + len(raw)
        if found_addr:
            yield found_addr
            pos = max(pos, found_addr.end)


def find_people_in_headers(text: str) -> Iterator[Found]:
    """People named in `From:`/`To:`/`Cc:` lines inside a text (forwarded and printed emails)."""
    if ":" not in text:
        return
    for m in _HEADER_LINE.finditer(text):
        offset = m.start(2)
        for f in find_header_people(m.group(2)):
            if f.kind == "person":
                yield Found("person", f.value, f.text, f.start + offset, f.end + offset)


# -- all together --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rules:
    """What the case configures: phone region for national numbers, reference-number patterns."""

    region: str = "US"
    references: tuple[PatternLike, ...] = ()


MAX_SCAN_CHARS = 3_000_000  # per text: a huge sheet is scanned up to here


def extract_text(text: str, rules: Rules | None = None, *, kinds: Iterable[str] | None = None) -> list[Found]:
    """Every entity in `text`, ordered by position; overlapping finds are resolved by priority."""
    rules = rules or Rules()
    if not text:
        return []
    text = text[:MAX_SCAN_CHARS]
    wanted = set(kinds) if kinds is not None else None

    def want(kind: str) -> bool:
        return wanted is None or kind in wanted

    # Claiming order: the most specific finds first; later kinds may not overlap them.
    out: list[Found] = []
    starts: list[int] = []
    ends: list[int] = []

    def claim(found: Iterable[Found], *, exclusive: bool = True) -> None:
        for f in found:
            i = bisect.bisect_left(starts, f.start)
            if exclusive and ((i > 0 and ends[i - 1] > f.start) or (i < len(starts) and starts[i] < f.end)):
                continue
            starts.insert(i, f.start)
            ends.insert(i, f.end)
            out.append(f)

    if want("email"):
        claim(find_emails(text))
    if want("url"):
        claim(find_urls(text))
    if want("iban"):
        claim(find_ibans(text))
    if want("reference") and rules.references:
        claim(find_references(text, rules.references))
    if want("ip"):
        claim(find_ips(text))
    if want("date"):
        claim(find_dates(text))
    if want("money"):
        claim(find_money(text))
    if want("phone"):
        claim(find_phones(text, rules.region))
    if want("bic"):
        claim(find_bics(text))
    # Names may contain what was found above (a company named after a number): they overlap freely.
    if want("company"):
        out.extend(find_companies(text))
    if want("person"):
        out.extend(find_people_in_headers(text))
    out.sort(key=lambda f: (f.start, f.end))
    return out


def display_for(kind: str, value: str, text: str) -> str:
    """How an entity is shown: the canonical format for numbers and codes, the first spelling for names."""
    if kind == "phone":
        return format_phone(value)
    if kind == "iban":
        return format_iban(value)
    if kind == "money":
        return format_money(value)
    if kind in ("email", "date", "url", "ip", "bic", "reference"):
        return value
    if kind == "person":
        return (person_name(text) or _tidy(text).strip("\"'“”")).strip()[:300]
    return _tidy(text)[:300]


def normalise_query(kind: str, text: str, region: str = "US") -> str | None:
    """The normalised value a reporter's query term means for `kind` (None when it cannot be one)."""
    text = text.strip()
    if not text:
        return None
    if kind == "email":
        return normalise_email(text)
    if kind == "phone":
        return normalise_phone(text, region)
    if kind in ("iban", "bic"):
        return text.replace(" ", "").upper()
    if kind == "money":
        found = normalise_money(text)
        if found:
            return found
        amount = parse_amount(text) if re.fullmatch(r"[\d.,' ]+", text) else None
        return f"* {_plain(amount)}" if amount is not None else None
    if kind == "date":
        found = next(find_dates(text), None)
        return found.value if found else text
    if kind == "url":
        return fold(text)
    if kind == "ip":
        return text.lower()
    if kind == "reference":
        return normalise_reference(text)
    if kind == "company":
        m = _FORM_RE.search(text)
        if m and m.end() == len(text.rstrip()):
            return company_key(text[: m.start()].rstrip(" ,"), m.group(0))
        return name_key(text)
    if "年" in text or "公司" in text or "会社" in text:
        return text
    return name_key(text)
