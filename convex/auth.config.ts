// Two kinds of JWT reach Convex functions:
// - sign-ins from @convex-dev/auth (RS256, issuer = site URL, audience
//   "convex"), verified against its JWKS at /.well-known/jwks.json. A
//   customJwt provider instead of the OIDC-style `{domain, applicationID}`:
//   that one would need /.well-known/openid-configuration, which keyhole does
//   not serve (it is an OAuth server, not an OpenID provider; convex/http.ts);
// - keyhole's own tokens (PATs and agent sessions), ES256, verified against
//   the JWKS that convex/http.ts serves, so `client.setAuth(token)` works.
const siteUrl = process.env.CONVEX_SITE_URL;

export default {
  providers: [
    {
      type: "customJwt",
      issuer: siteUrl,
      jwks: `${siteUrl}/.well-known/jwks.json`,
      algorithm: "RS256",
      applicationID: "convex",
    },
    {
      type: "customJwt",
      issuer: `${siteUrl}/keyhole`,
      jwks: `${siteUrl}/keyhole/jwks.json`,
      algorithm: "ES256",
      applicationID: "keyhole",
    },
  ],
};
