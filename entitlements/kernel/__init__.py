"""The shared kernel: what the server and the gateway SDK must agree on, written once.

Token claim names, assurance levels, the compiled policy and its decision, and the status-list
codec. Standard library only: the SDK imports it without Flask, SQLAlchemy or even PyJWT.
"""
