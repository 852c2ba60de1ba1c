"""What this authorization server supports: grant types and client authentication methods."""

from ..clients.models import GrantType

CLIENT_CREDENTIALS = GrantType.CLIENT_CREDENTIALS.value
TOKEN_EXCHANGE = GrantType.TOKEN_EXCHANGE.value
AUTHORIZATION_CODE = GrantType.AUTHORIZATION_CODE.value
REFRESH_TOKEN = GrantType.REFRESH_TOKEN.value
DEVICE_CODE = GrantType.DEVICE_CODE.value
GRANT_TYPES = tuple(g.value for g in GrantType)

#: Client authentication methods of confidential clients, at every endpoint that
#: authenticates clients.
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
#: A public client (RFC 8252) names itself at the token endpoint and proves the code with
#: its PKCE verifier.
PUBLIC = "none"
