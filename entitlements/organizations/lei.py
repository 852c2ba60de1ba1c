"""Legal Entity Identifiers (ISO 17442): local check digits, then the GLEIF registry.

``validate_lei`` checks the format and the ISO 7064 MOD 97-10 check digits without
any network. ``GleifRegistry.lookup`` reads the public record over HTTPS; a record
the registry does not hold is ``LeiNotFound``, and a registry that errs or is slow
is ``RegistryUnavailable``, which the caller may retry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import requests

from ..base.errors import InvalidInput, NotFound, ProblemError

GLEIF_API = "https://api.gleif.org/api/v1"
LEI_FORMAT = re.compile(r"[0-9A-Z]{18}[0-9]{2}")
MAX_RECORD_BYTES = 256 * 1024


class LeiNotFound(NotFound):
    code = "lei_not_found"


class RegistryUnavailable(ProblemError):
    """The registry failed or timed out: retry later."""

    code = "registry_unavailable"
    status = 503
    title = "Upstream unavailable"


@dataclass(frozen=True)
class LeiRecord:
    lei: str
    legal_name: str
    country: str
    entity_status: str
    registration_status: str

    @property
    def is_current(self) -> bool:
        """An active entity whose registration is kept up to date."""
        return self.entity_status == "ACTIVE" and self.registration_status == "ISSUED"


def validate_lei(lei: str) -> str:
    """The LEI in canonical form, or InvalidInput naming what is wrong."""
    candidate = lei.strip().upper()
    if not LEI_FORMAT.fullmatch(candidate):
        raise InvalidInput("an LEI is 18 letters or digits followed by 2 check digits",
                           code="invalid_lei")
    if check_value(candidate) != 1:
        raise InvalidInput("the LEI's check digits are wrong (ISO 7064 MOD 97-10)",
                           code="invalid_lei")
    return candidate


def check_value(code: str) -> int:
    """ISO 7064 MOD 97-10 over letters mapped to 10..35; a valid LEI gives 1."""
    return int("".join(str(int(ch, 36)) for ch in code)) % 97


class GleifRegistry:
    def __init__(self, base_url: str = GLEIF_API, timeout: float = 5.0,
                 session: requests.Session | None = None) -> None:
        self.base_url, self.timeout = base_url.rstrip("/"), timeout
        self._http = session or requests.Session()

    def lookup(self, lei: str) -> LeiRecord:
        lei = validate_lei(lei)
        try:
            response = self._http.get(f"{self.base_url}/lei-records/{lei}", timeout=self.timeout,
                                      headers={"Accept": "application/vnd.api+json"})
        except requests.RequestException as error:
            raise RegistryUnavailable("the LEI registry could not be reached; retry later",
                                      detail=type(error).__name__) from None
        if response.status_code == 404:
            raise LeiNotFound(f"the LEI registry has no record of {lei}")
        if response.status_code != 200 or len(response.content) > MAX_RECORD_BYTES:
            raise RegistryUnavailable("the LEI registry answered with an error; retry later",
                                      detail=f"HTTP {response.status_code}")
        return _parse(lei, response)


def _parse(lei: str, response: requests.Response) -> LeiRecord:
    try:
        attributes: dict[str, Any] = response.json()["data"]["attributes"]
        entity = attributes["entity"]
        return LeiRecord(
            lei=attributes["lei"],
            legal_name=entity["legalName"]["name"],
            country=entity["legalAddress"]["country"],
            entity_status=entity["status"],
            registration_status=attributes["registration"]["status"],
        )
    except (ValueError, KeyError, TypeError):
        raise RegistryUnavailable("the LEI registry's answer was not understood; retry later",
                                  detail=f"unexpected record for {lei}") from None
