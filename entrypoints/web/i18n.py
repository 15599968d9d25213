"""The dashboard's languages: Indonesian (the default) and English.

The catalogs are the ``.po`` files in ``locale/``, compiled in memory by Babel when first used (no compiled
``.mo`` to keep in step with its source). Numbers, percentages and dates are formatted by Babel for the
locale; times are shown in the configured zone (JEJAK_TZ)."""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from io import BytesIO
from pathlib import Path

from babel import dates, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LANGUAGES = {"id": "Bahasa Indonesia", "en": "English"}
DEFAULT = "id"
LOCALE_DIR = Path(__file__).parent / "locale"
MISSING = "—"  # a value that is not there (no case followed up, nothing to compute)


@cache
def translations(lang: str) -> Translations:
    with open(LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po", "rb") as source:
        catalog = read_po(source, locale=lang)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(fp=compiled)


class Formats:
    """Values for people, in one locale: the filters of the templates."""

    def __init__(self, lang: str, zone):
        self.lang, self.zone = lang, zone

    def count(self, value) -> str:
        return MISSING if _missing(value) else numbers.format_decimal(int(value), locale=self.lang)

    def percent(self, value) -> str:
        return MISSING if _missing(value) else numbers.format_percent(value, "#,##0.0%", locale=self.lang)

    def days(self, value) -> str:
        return MISSING if _missing(value) else numbers.format_decimal(round(float(value)), locale=self.lang)

    def day(self, value) -> str:
        if _missing(value):
            return MISSING
        if isinstance(value, datetime):
            value = value.astimezone(self.zone).date()
        return dates.format_date(value, "medium", locale=self.lang)

    def month(self, value) -> str:
        return dates.format_date(value, "MMM y", locale=self.lang)

    def moment(self, value) -> str:
        """A time, to the minute, in the local zone, with the zone's abbreviation-free offset."""
        if _missing(value):
            return MISSING
        local = value.astimezone(self.zone)
        return dates.format_datetime(local, "d MMM y HH:mm", locale=self.lang) + local.strftime(" %z")

    def iso_day(self, value) -> str:
        if isinstance(value, datetime):
            value = value.astimezone(self.zone).date()
        return value.isoformat() if isinstance(value, date) else ""


def _missing(value) -> bool:
    if value is None:
        return True
    try:
        return value != value  # NaN, NaT
    except (TypeError, ValueError):
        return False
