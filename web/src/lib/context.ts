import { createContext, useContext } from "react";
import type { DashboardConfig } from "../config";

export const ConfigContext = createContext<DashboardConfig | null>(null);

export function useConfig(): DashboardConfig {
  const c = useContext(ConfigContext);
  if (c === null) throw new Error("ConfigContext missing");
  return c;
}
