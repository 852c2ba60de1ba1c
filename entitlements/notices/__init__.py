"""Notices to people outside the service (admins' on-call address, a government recipient):
an outbox written in the transaction of the change they tell of, delivered after it."""
