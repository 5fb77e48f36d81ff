// Two kinds of JWT reach Convex functions:
// - sign-ins from @convex-dev/auth (OIDC-style provider, issuer = site URL);
// - keyhole's own tokens (PATs and agent sessions), ES256, verified against
//   the JWKS that convex/http.ts serves, so `client.setAuth(token)` works.
const siteUrl = process.env.CONVEX_SITE_URL;

export default {
  providers: [
    { domain: siteUrl, applicationID: "convex" },
    {
      type: "customJwt",
      issuer: `${siteUrl}/keyhole`,
      jwks: `${siteUrl}/keyhole/jwks.json`,
      algorithm: "ES256",
      applicationID: "keyhole",
    },
  ],
};
