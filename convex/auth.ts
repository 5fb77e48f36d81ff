import GitHub from "@auth/core/providers/github";
import { Password } from "@convex-dev/auth/providers/Password";
import { convexAuth } from "@convex-dev/auth/server";

// Password sign-in always; GitHub only when its OAuth app is configured.
const providers = [
  Password,
  ...(process.env.AUTH_GITHUB_ID && process.env.AUTH_GITHUB_SECRET ? [GitHub] : []),
];

export const { auth, signIn, signOut, store, isAuthenticated } = convexAuth({
  providers,
});

// The keyhole public API (DESIGN.md, "Public API") is defined below, one
// section per credential kind; each function is a thin wrapper over
// convex/model/.

// ---- section: tokens (PATs, viewer) ---------------------------------------
// ---- /section: tokens ------------------------------------------------------

// ---- section: sessions (agent sessions, web sessions) ---------------------
// ---- /section: sessions ----------------------------------------------------

// ---- section: oauth (connections) -----------------------------------------
// ---- /section: oauth -------------------------------------------------------
