"""Tiers and who may use them."""
