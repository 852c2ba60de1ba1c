"""Why a sign-in step was refused: a stable reason, and a message safe to show the person."""

from __future__ import annotations


class SignInRefused(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason, self.message = reason, message
