"""OAuth clients of partner organizations."""
