"""Organizations' own identity providers, whose ID tokens we exchange for person tokens."""
