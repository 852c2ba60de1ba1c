"""Issued tokens, in one home: the record and its ledger (written with the audit event before
the response, checked against the standing rule), status-list slots and publication, token
state, and revocation, one token or in bulk."""
