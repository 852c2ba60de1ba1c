// panva's openid-client with its DPoP handle: a DPoP-bound token by client credentials,
// then a call to a gateway behind the authorization service, proving the key.
// Usage: node dpop_client.mjs ISSUER CLIENT_ID CLIENT_SECRET GATEWAY_URL
import * as client from 'openid-client'

const [issuer, clientId, clientSecret, gatewayUrl] = process.argv.slice(2)
const config = await client.discovery(new URL(issuer), clientId, undefined,
  client.ClientSecretBasic(clientSecret), { execute: [client.allowInsecureRequests] })
const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair())
const tokens = await client.clientCredentialsGrant(config, { scope: 'tier:public' }, { DPoP })
const answer = await client.fetchProtectedResource(config, tokens.access_token,
  new URL(gatewayUrl), 'POST', undefined,
  new Headers({ 'X-Entitlements-Model': 'base-1' }), { DPoP })
console.log(JSON.stringify({
  token_type: tokens.token_type,
  cnf: JSON.parse(Buffer.from(tokens.access_token.split('.')[1], 'base64url')).cnf,
  status: answer.status,
  model: answer.headers.get('x-entitlements-model'),
}))
