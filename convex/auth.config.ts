// Two kinds of JWT reach Convex functions:
// - sign-ins from @convex-dev/auth (OIDC-style provider, issuer = site URL);
// - keyhole's own tokens (PATs and agent sessions), ES256, issuer
//   KEYHOLE_ISSUER (stable: model/issuer.ts), verified against the JWKS that
//   convex/http.ts serves, so `client.setAuth(token)` works.
import { keyholeIssuer, siteUrl } from "./model/issuer";

export default {
  providers: [
    { domain: process.env.CONVEX_SITE_URL, applicationID: "convex" },
    {
      type: "customJwt",
      issuer: keyholeIssuer(),
      jwks: `${siteUrl()}/keyhole/jwks.json`,
      algorithm: "ES256",
      applicationID: "keyhole",
    },
  ],
};
