"""The admin API: named admins and their API keys (the /admin routes are in web/admin)."""
