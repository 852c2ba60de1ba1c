"""Stand-ins for third parties: DNS, and the GLEIF registry's records."""

from __future__ import annotations

from entitlements.organizations.domains import DnsUnavailable


class FakeResolver:
    """Stands in for DNS: a dict of name -> TXT strings, or an outage."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.down = False

    def txt(self, name: str) -> list[str]:
        if self.down:
            raise DnsUnavailable("the DNS lookup failed; retry later")
        return self.records.get(name, [])


BANK_LEI = "5493001KJTIIGC8Y1R12"


def record(lei: str, name: str = "Acme Labs Inc.", country: str = "US",
           entity_status: str = "ACTIVE", registration: str = "ISSUED") -> dict:
    """A payload of the shape GLEIF's /api/v1/lei-records/{lei} returns (abridged)."""
    return {
        "meta": {"goldenCopy": {"publishDate": "2026-11-27T08:00:00Z"}},
        "data": {
            "type": "lei-records",
            "id": lei,
            "attributes": {
                "lei": lei,
                "entity": {
                    "legalName": {"name": name, "language": "en"},
                    "otherNames": [],
                    "legalAddress": {"language": "en", "addressLines": ["1 Main St"],
                                     "city": "Wilmington", "region": "US-DE",
                                     "country": country, "postalCode": "19801"},
                    "jurisdiction": f"{country}-DE",
                    "category": "GENERAL",
                    "status": entity_status,
                },
                "registration": {"initialRegistrationDate": "2019-01-01T00:00:00Z",
                                 "status": registration,
                                 "nextRenewalDate": "2027-01-01T00:00:00Z"},
            },
        },
    }
