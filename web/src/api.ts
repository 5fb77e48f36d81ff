/**
 * The backend functions the dashboard uses: the generated API, so every call
 * is type-checked against the real function signatures.
 */
export { api } from "../../convex/_generated/api";
