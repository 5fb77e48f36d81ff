import { useConvexConnectionState } from "convex/react";

/** Whether the backend is unreachable now: the first connection failed, or an established one dropped. */
export function useBackendDown(): boolean {
  const state = useConvexConnectionState();
  return !state.isWebSocketConnected && (state.hasEverConnected || state.connectionRetries > 0);
}
