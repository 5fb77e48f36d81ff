// Two kinds of JWT reach Convex functions:
// - sign-ins from @convex-dev/auth (RS256, issuer = site URL exactly as
//   @convex-dev/auth writes it, audience "convex"), verified against its JWKS
//   at /.well-known/jwks.json. A customJwt provider instead of the OIDC-style
//   `{domain, applicationID}`: that one would need
//   /.well-known/openid-configuration, which keyhole does not serve (it is an
//   OAuth server, not an OpenID provider; convex/http.ts);
// - keyhole's own tokens (PATs and agent sessions), ES256, issuer
//   KEYHOLE_ISSUER (stable: model/issuer.ts), verified against the JWKS that
//   convex/http.ts serves, so `client.setAuth(token)` works.
import { keyholeIssuer, siteUrl } from "./model/issuer";

export default {
  providers: [
    {
      type: "customJwt",
      issuer: process.env.CONVEX_SITE_URL,
      jwks: `${siteUrl()}/.well-known/jwks.json`,
      algorithm: "RS256",
      applicationID: "convex",
    },
    {
      type: "customJwt",
      issuer: keyholeIssuer(),
      jwks: `${siteUrl()}/keyhole/jwks.json`,
      algorithm: "ES256",
      applicationID: "keyhole",
    },
  ],
};
