"""Free text in a research album's copies (docs/research-albums.md): what identifies the patient
or the visit in the original, as patterns to strip from the text the Clean Descriptors option keeps
(descriptions, SR text content items, overlay descriptions).

Found in the original: every person name's components (matched case-insensitively, also glued to
other letters; initials only next to a component: "Quentin J.", "J. Zorblax"), the values of the
attributes PS3.15 Table E.1-1 removes or replaces (whole, their parts, and the digit runs of four or
more, so "MRN-7733991" also removes "7733991"), and their dates in common spellings (19610413,
1961-04-13, 13/04/1961, 04/13/1961, 13.04.1961, 13 Apr 1961, April 13, 1961).

Pure: pydicom datasets in, strings out."""
from __future__ import annotations

import re
from collections.abc import Callable

import pydicom
from pydicom.dataset import Dataset

LETTER = r"[^\W\d_]"
NOT_ALNUM_BEFORE, NOT_ALNUM_AFTER = r"(?<![^\W_])", r"(?![^\W_])"
SEPARATORS = r"[\s,.;:^'_/-]*"
# Name components this long are removed with the word they are glued into ("QUENTINZORBLAX").
GLUED_COMPONENT = 4
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december")


def _values(element) -> list[str]:
    value = element.value
    items = value if isinstance(value, pydicom.multival.MultiValue) else [value]
    return [str(v) for v in items if v not in (None, "")]


def _date_spellings(date: str) -> list[str]:
    """Regex alternatives for a DA value (or a DT's date) written the usual ways, digit-bounded by
    the caller: numbers in any order with any of -/. or spaces between (spaces around them too),
    compact (19580722, 22071958, 07221958), and the month's name or abbreviation in any case
    (22-Jul-1958, 1958-JUL-22, Jul-22-1958, July 22, 1958, 22nd July 1958)."""
    match = re.match(r"(\d{4})(\d{2})(\d{2})", date.strip())
    if not match:
        return []
    year, month, day = match.groups()
    m, d = rf"0?{int(month)}", rf"0?{int(day)}(?:st|nd|rd|th)?"
    sep = r"\s*[-/.]\s*|\s+"
    out = [year + month + day, day + month + year, month + day + year,
           rf"{year}(?:{sep}){m}(?:{sep}){d}", rf"{d}(?:{sep}){m}(?:{sep}){year}", rf"{m}(?:{sep}){d}(?:{sep}){year}"]
    if 1 <= int(month) <= 12:
        name = MONTHS[int(month) - 1]
        month_name = rf"{name[:3]}(?:{name[3:]})?\.?"
        named = r"[\s,./-]*"
        out += [rf"{d}{named}{month_name}{named}{year}", rf"{month_name}{named}{d}{named}{year}",
                rf"{year}{named}{month_name}{named}{d}"]
    return out


class Identifiers:
    """What names or identifies the patient or the visit in one original instance."""

    def __init__(self, dataset: Dataset, is_identifying: Callable[[int], bool], skipped: frozenset[str]):
        self.components: set[str] = set()
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
        for part in re.split(r"[\^=\s,.'/-]+", value):
            if len(part) >= 2:
                self.components.add(part.lower())
            if part and part[0].isalpha():
                self.initials.add(part[0].upper())

    def _add_value(self, value: str) -> None:
        value = value.strip()
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
        if self.components:  # last: a value or number starting with an initial is matched whole first
            alternatives.append(rf"(?P<name>{self._name_run()})")
        return re.compile("|".join(alternatives), re.IGNORECASE) if alternatives else None

    def _name_alternatives(self) -> str:
        glued = sorted((c for c in self.components if len(c) >= GLUED_COMPONENT), key=len, reverse=True)
        alone = sorted((c for c in self.components if len(c) < GLUED_COMPONENT), key=len, reverse=True)
        names = []
        if glued:
            names.append(rf"{LETTER}*(?:{'|'.join(map(re.escape, glued))}){LETTER}*")
        if alone:
            names.append(rf"(?<!{LETTER})(?:{'|'.join(map(re.escape, alone))})(?!{LETTER})")
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
        """`text` without any of the identifiers, tidied (no doubled spaces or dangling commas)."""
        if self._pattern is None or not text:
            return text
        cleaned = self._pattern.sub(self._removed, text)
        while cleaned != text:  # a removal can join what is left into another match
            text, cleaned = cleaned, self._pattern.sub(self._removed, cleaned)
        return _tidy(cleaned)

    def _removed(self, match: re.Match) -> str:
        if self.components and match.group("name") is not None and not self._name_only.search(match.group(0)):
            return match.group(0)  # initials alone ("J wave"): not a name
        return " "


def _tidy(text: str) -> str:
    text = re.sub(r"\(\s*[,;:]?\s*", "(", text)
    text = re.sub(r"\s*[,;:]?\s*\)", ")", text)
    text = text.replace("()", "")
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r"\s+([,;:.])", r"\1", text)
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    return text.strip(" \t,;:-")
