"""Country codes: ISO 3166-1 alpha-2, as nationalities and organizations' countries are given."""

from __future__ import annotations

import re

COUNTRY = re.compile(r"[A-Z]{2}")


def is_country(code: object) -> bool:
    return isinstance(code, str) and COUNTRY.fullmatch(code) is not None
