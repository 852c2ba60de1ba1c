"""The admin API: named admins authenticated by API keys, and the /admin blueprint."""
