"""Registered resource servers (model gateways): the audiences tokens may name."""
