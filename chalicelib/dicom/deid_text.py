"""Free text in a research album's copies (docs/research-albums.md): what identifies the patient
or the visit in the original, as patterns to strip from the text the Clean Descriptors option keeps
(descriptions, SR text content items, overlay descriptions).

Found in the original: every person name's components (matched case-insensitively, also glued to
other letters; initials only next to a component: "Quentin J.", "J. Zorblax"; components in CJK,
kana or Hangul as substrings), the values of the attributes PS3.15 Table E.1-1 removes or replaces
(whole, their parts, and the digit runs of four or more, however zero-padded, so "MRN-7733991" also
removes "7733991" and "007733991"), and every date of the original in common spellings (19610413,
13041961, 04131961, 1961-04-13, 13/04/1961, 04/13/1961, 13 - 04 - 1961, 13-Apr-1961, Apr-13-1961,
1961-APR-13, April 13, 1961, 13.IV.1961, the 13th of April, 1961). Text and identifiers are compared in their plain form (`folded`: NFKC
width, no accents, ß as ss, İ/ı as i, Ø as O; Müller also as Mueller; typographic dashes as "-",
digits of any script as ASCII, no zero-width characters or soft hyphens, Cyrillic and Greek
look-alikes as Latin letters; a name's letters spaced out, V O S K U I J L E N, too), and what is
kept keeps its original characters.

Pure: pydicom datasets in, strings out."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import pydicom
from pydicom.dataset import Dataset

LETTER = r"[^\W\d_]"
NOT_ALNUM_BEFORE, NOT_ALNUM_AFTER = r"(?<![^\W_])", r"(?![^\W_])"
SEPARATORS = r"[\s,.;:^'_/-]*"
# Name components this long are removed with the word they are glued into ("QUENTINZORBLAX").
GLUED_COMPONENT = 4
# Letters NFKD leaves whole, written as the base letters they are usually replaced by.
SIMPLE_LETTERS = str.maketrans({"ß": "ss", "ẞ": "SS", "ı": "i", "Ø": "O", "ø": "o", "Đ": "D", "đ": "d",
                                "Ł": "L", "ł": "l", "Æ": "AE", "æ": "ae", "Œ": "OE", "œ": "oe", "Þ": "TH", "þ": "th",
                                "\u2018": "'", "\u2019": "'"})
# Transliterations of a name's letters that sending systems also use (Müller -> MUELLER, Østergård -> OESTERGAARD).
TRANSLITERATED = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ø": "oe", "å": "aa", "æ": "ae"})
# Scripts written without spaces between the parts of a name (CJK ideographs, kana, Hangul):
# their components are removed wherever they occur, as substrings.
UNSPACED_SCRIPT = re.compile("[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf"
                             "\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0002fa1f]")
# Typographic dashes and slashes (word processors' autocorrect) as the ASCII ones.
PUNCTUATION = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
                             "\u2015": "-", "\u2212": "-", "\ufe63": "-", "\u2044": "/", "\u2215": "/"})
# Cyrillic and Greek letters (in lower case) that look like Latin ones, as those: a Latin name
# written with a Cyrillic О still matches. Both the text and the identifiers are folded this way.
HOMOGLYPHS = str.maketrans("аеорсухіјѕкмнтвԁӏ" "αβεηικμνορτυχζ",
                           "aeopcyxijskmhtbdl" "abehikmnoptyxz")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december")


def _folded_char(char: str) -> str:
    """`char` compared as its plain form: width and compatibility forms unified (NFKC), accents
    and other combining marks dropped (NFKD), ß/ı/Ø/... as their base letters, typographic
    dashes as "-" (`_plain_char` for the rest)."""
    char = unicodedata.normalize("NFKC", char)
    plain = "".join(_plain_char(c) for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return plain.translate(SIMPLE_LETTERS).translate(PUNCTUATION)


def _plain_char(char: str) -> str:
    """Invisible characters (zero-width, soft hyphen: format characters) dropped, digits of any
    script as ASCII digits, Cyrillic and Greek homoglyphs as Latin letters."""
    if unicodedata.category(char) == "Cf":
        return ""
    if not char.isascii() and unicodedata.digit(char, None) is not None and unicodedata.category(char) == "Nd":
        return str(unicodedata.digit(char))
    if "\u0370" <= char <= "\u052f":  # Greek, Cyrillic
        return char.lower().translate(HOMOGLYPHS)
    return char


def folded(text: str) -> tuple[str, list[int]]:
    """`text` in its plain form (`_folded_char`), and for each of its characters the index of the
    original character it comes from: what is found in the plain form is cut from the original."""
    out, origin = [], []
    for index, char in enumerate(text):
        plain = _folded_char(char)
        out.append(plain)
        origin.extend([index] * len(plain))
    return "".join(out), origin


def _values(element) -> list[str]:
    value = element.value
    items = value if isinstance(value, pydicom.multival.MultiValue) else [value]
    return [str(v) for v in items if v not in (None, "")]


def _date_spellings(date: str) -> list[str]:
    """Regex alternatives for a DA value (or a DT's date) written the usual ways, digit-bounded by
    the caller: numbers in any order with up to twelve punctuation characters or spaces between,
    compact (19580722, 22071958, 07221958, and as a DT's start: 20220614083015), and the month's name or abbreviation in any case
    (22-Jul-1958, 1958-JUL-22, Jul-22-1958, July 22, 1958, 22nd July 1958)."""
    match = re.match(r"(\d{4})(\d{2})(\d{2})", date.strip())
    if not match:
        return []
    year, month, day = match.groups()
    m, d = rf"(?:0?{int(month)}|{_roman(int(month))})", rf"0?{int(day)}(?:st|nd|rd|th)?"
    sep = r"[\W_]{1,12}"  # any punctuation or space between the numbers: 1958:07:22 (EXIF), 22|07|1958, 2022__06__14
    out = [rf"(?<!\.){year}{month}{day}\d{{2,6}}(?:\.\d{{1,6}})?", year + month + day, day + month + year, month + day + year,
           rf"{year}(?:{sep})?{month}(?:{sep})?{day}", rf"{day}(?:{sep})?{month}(?:{sep})?{year}",
           rf"{year}(?:{sep})?{day}(?:{sep})?{month}",  # year-day-month: 1958-22-07
           rf"{year}(?:{sep}){m}(?:{sep}){d}", rf"{d}(?:{sep}){m}(?:{sep}){year}", rf"{m}(?:{sep}){d}(?:{sep}){year}"]
    if 1 <= int(month) <= 12:
        name = MONTHS[int(month) - 1]
        month_name = rf"{name[:3]}(?:{name[3:]})?\.?"
        named = r"[\s,./-]*"
        the, of = rf"(?:(?<!{LETTER})the\s+)?", r"(?:of\s+)?"
        out += [rf"{the}{d}{named}{of}{month_name}{named}{year}", rf"{month_name}{named}{d}{named}{year}",
                rf"{year}{named}{month_name}{named}{d}"]
    return out


def _roman(month: int) -> str:
    """The month in Roman numerals (22.VII.1958), or a pattern matching nothing."""
    numerals = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")
    return numerals[month - 1] if 1 <= month <= 12 else r"(?!)"


class Identifiers:
    """What names or identifies the patient or the visit in one original instance."""

    def __init__(self, dataset: Dataset, is_identifying: Callable[[int], bool], skipped: frozenset[str]):
        self.components: set[str] = set()
        self.unspaced: set[str] = set()  # components in a script written without spaces
        self.initials: set[str] = set()
        self.values: set[str] = set()
        self.digit_runs: set[str] = set()
        self.dates: set[str] = set()
        self._collect(dataset, is_identifying, skipped)
        self._pattern = self._compiled()

    def _collect(self, dataset: Dataset, is_identifying, skipped) -> None:
        for element in dataset:
            if element.VR == "SQ":
                for item in element.value or []:
                    self._collect(item, is_identifying, skipped)
            elif element.keyword in skipped:
                continue
            elif element.VR == "PN":
                for value in _values(element):
                    self._add_name(value)
            elif element.VR in ("DA", "DT"):  # every date: removed, or shifted by the longitudinal option
                self.dates.update(_values(element))
            elif is_identifying(int(element.tag)) and element.VR in ("LO", "SH", "CS"):
                for value in _values(element):
                    self._add_value(value)

    def _add_name(self, value: str) -> None:
        plain = folded(value)[0]
        variant = folded(value.lower().translate(TRANSLITERATED))[0]
        for part in {*re.split(r"[\^=\s,.'/-]+", plain), *re.split(r"[\^=\s,.'/-]+", variant)}:
            if part and UNSPACED_SCRIPT.search(part):
                self.unspaced.add(part.lower())
            elif len(part) >= 2:
                self.components.add(part.lower())
            if part and part[0].isalpha():
                self.initials.add(part[0].upper())
        for part in re.split(r"[\^=\s,.'/-]+", value):  # a Cyrillic or Greek initial, folded as in the text
            if part and part[0].isalpha() and not part[0].isascii():
                self.initials.add(_folded_char(part[0].upper()))

    def _add_value(self, value: str) -> None:
        value = folded(value.strip())[0]
        if len(value) >= 3:
            self.values.add(value.lower())
        self.values.update(part.lower() for part in re.split(r"[\W_]+", value) if len(part) >= 3)
        for run in re.findall(r"\d{4,}", value):  # zero-padded differently too: 05518203, 0005518203
            self.digit_runs.add(run.lstrip("0") if len(run.lstrip("0")) >= 4 else run)

    def _compiled(self) -> re.Pattern | None:
        alternatives = [NOT_ALNUM_BEFORE + re.escape(v) + NOT_ALNUM_AFTER
                         for v in sorted(self.values, key=len, reverse=True)]
        alternatives += [rf"(?<!\d)0*{re.escape(run)}(?!\d)" for run in sorted(self.digit_runs, key=len, reverse=True)]
        alternatives += [rf"(?<!\d)(?:{spelling})(?!\d)" for date in sorted(self.dates) for spelling in _date_spellings(date)]
        if self.components or self.unspaced:  # last: a value or number starting with an initial is matched whole first
            alternatives.append(rf"(?P<name>{self._name_run()})")
        return re.compile("|".join(alternatives), re.IGNORECASE) if alternatives else None

    def _name_alternatives(self) -> str:
        glued = sorted((c for c in self.components if len(c) >= GLUED_COMPONENT), key=len, reverse=True)
        alone = sorted((c for c in self.components if len(c) < GLUED_COMPONENT), key=len, reverse=True)
        names = []
        if self.unspaced:
            names.append(f"(?:{'|'.join(map(re.escape, sorted(self.unspaced, key=len, reverse=True)))})")
        if glued:
            names.append(rf"{LETTER}*(?:{'|'.join(map(_transliterable, glued))}){LETTER}*")
            spaced = "|".join(r"[\s.]{1,2}".join(map(re.escape, c)) for c in glued)  # V O S K U I J L E N
            names.append(rf"(?<!{LETTER})(?:{spaced})(?!{LETTER})")
        if alone:
            names.append(rf"(?<!{LETTER})(?:{'|'.join(map(_transliterable, alone))})(?!{LETTER})")
        return "|".join(names)

    def _name_run(self) -> str:
        """Name components with the initials and separators between them: "Zorblax, Quentin J."."""
        name = self._name_alternatives()
        token = rf"(?:{name})"
        if self.initials:
            initial = rf"(?<!{LETTER})(?-i:[{''.join(sorted(self.initials))}])(?!{LETTER})\.?"
            token = rf"(?:{name}|{initial})"
        self._name_only = re.compile(name, re.IGNORECASE)
        return rf"{token}(?:{SEPARATORS}{token})*"

    def clean(self, text: str) -> str:
        """`text` without any of the identifiers, tidied (no doubled spaces or dangling commas).
        Matched on the plain form of the text (`folded`), cut from the original."""
        if self._pattern is None or not text:
            return text
        cleaned = self._cleaned_once(text)
        while cleaned != text:  # a removal can join what is left into another match
            text, cleaned = cleaned, self._cleaned_once(cleaned)
        return _tidy(cleaned)

    def _cleaned_once(self, text: str) -> str:
        plain, origin = folded(text)
        kept, position = [], 0
        for match in self._pattern.finditer(plain):
            if match.end() == match.start() or self._initials_only(match):
                continue
            start, end = origin[match.start()], origin[match.end() - 1] + 1
            while end < len(text) and not _folded_char(text[end]):  # the marks of the last letter
                end += 1
            kept += [text[position:start], " "]
            position = end
        kept.append(text[position:])
        return "".join(kept)

    def _initials_only(self, match: re.Match) -> bool:
        """Initials alone ("J wave"): not a name."""
        return bool(self.components or self.unspaced) and match.group("name") is not None \
            and not self._name_only.search(match.group(0))


def _transliterable(component: str) -> str:
    """A name component's pattern that also matches its transliterations: MULLER in MUELLER,
    OSTERGARD in OESTERGAARD (the plain form of the text has no accents left to match)."""
    return "".join(re.escape(char) + {"a": "[ae]?", "o": "e?", "u": "e?"}.get(char, "") for char in component)


def _tidy(text: str) -> str:
    text = re.sub(r"\(\s*[,;:]?\s*", "(", text)
    text = re.sub(r"\s*[,;:]?\s*\)", ")", text)
    text = text.replace("()", "")
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r"\s+([,;:.])", r"\1", text)
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    return text.strip(" \t,;:-")
