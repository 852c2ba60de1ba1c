"""What every server domain shares: who acts and when, ids, the clock, errors, settings, the
database and its transactions, bounded caches and fetches, and foreign-JWT verification.
Nothing here imports a domain."""
