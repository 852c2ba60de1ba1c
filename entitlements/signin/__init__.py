"""People signing in through a browser: the pending authorization request, the sign-in
brokered to their organization's own identity provider, the consent they give, the
authorization code it yields, and the sign-in session that spares them the next time."""
