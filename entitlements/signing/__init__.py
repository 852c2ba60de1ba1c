"""Signing keys: the on-disk private keys, their metadata, rotation and the JWKS."""
