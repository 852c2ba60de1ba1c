"""What admins answer to a government with: signed, offline-verifiable exports of the audit
log over an interval, "who could use what at time T", malicious-activity reports, and the
signed checkpoints that anchor the audit chains outside the database."""
