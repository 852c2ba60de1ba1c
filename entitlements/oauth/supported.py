"""What this authorization server supports: grant types and client authentication methods."""

CLIENT_CREDENTIALS = "client_credentials"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # RFC 8693
GRANT_TYPES = (CLIENT_CREDENTIALS, TOKEN_EXCHANGE)

#: Client authentication methods accepted at every endpoint that authenticates clients.
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
