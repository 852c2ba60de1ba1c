"""CLI fixtures (a runner on the test database, an organization) shared by CLI tests."""

from tests.unit.test_cli import cli, databases, org_id  # noqa: F401 - re-exported fixtures
