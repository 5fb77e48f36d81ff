/** Command-line flags shared by local/main.ts and local/start.ts. */
import { parseHostList } from "./hosts.js";

export type Flags = {
  port: number;
  sitePort: number;
  host: string;
  dataDir: string;
  webPort: number;
  noWeb: boolean;
  /** Serve the dashboard with Vite's dev server (confined to web/) instead of the build. */
  devWeb: boolean;
  /** Host names served besides IP literals and localhost (local/hosts.ts). */
  allowedHosts?: string[];
  /** The Convex functions folder (default: the repo's convex/). */
  convexDir?: string;
};

const USAGE = `Usage: npm start -- [--port 3210] [--site-port 3211] [--host 127.0.0.1] [--data-dir .keyhole] [--web-port 5173] [--no-web] [--dev-web]
                    [--allowed-hosts name,*.domain] [--convex-dir convex]
Environment: KEYHOLE_PORT, KEYHOLE_SITE_PORT, KEYHOLE_HOST, KEYHOLE_DATA_DIR, KEYHOLE_WEB_PORT, KEYHOLE_ALLOWED_HOSTS`;

/** parseFlags for an entry point: a bad flag prints its message and exits with status 2. */
export function parseFlagsOrExit(argv: string[]): Flags {
  try {
    return parseFlags(argv);
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
}

/** The flags that startBackend() takes. */
export function backendOptions(flags: Flags): Pick<Flags, "port" | "sitePort" | "host" | "dataDir" | "convexDir" | "allowedHosts"> {
  return {
    port: flags.port,
    sitePort: flags.sitePort,
    host: flags.host,
    dataDir: flags.dataDir,
    convexDir: flags.convexDir,
    allowedHosts: flags.allowedHosts,
  };
}

export function parseFlags(argv: string[], env: NodeJS.ProcessEnv = process.env): Flags {
  const flags: Flags = {
    port: num(env.KEYHOLE_PORT, 3210, "KEYHOLE_PORT"),
    sitePort: num(env.KEYHOLE_SITE_PORT, 3211, "KEYHOLE_SITE_PORT"),
    host: env.KEYHOLE_HOST || "127.0.0.1",
    dataDir: env.KEYHOLE_DATA_DIR || ".keyhole",
    webPort: num(env.KEYHOLE_WEB_PORT, 5173, "KEYHOLE_WEB_PORT"),
    noWeb: false,
    devWeb: false,
    allowedHosts: env.KEYHOLE_ALLOWED_HOSTS === undefined ? undefined : parseHostList(env.KEYHOLE_ALLOWED_HOSTS),
  };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i]!;
    let value: string | undefined;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const take = () => {
      const v = value ?? argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value\n${USAGE}`);
      return v;
    };
    switch (arg) {
      case "--port":
        flags.port = num(take(), 0, arg);
        break;
      case "--site-port":
        flags.sitePort = num(take(), 0, arg);
        break;
      case "--host":
        flags.host = take();
        break;
      case "--data-dir":
        flags.dataDir = take();
        break;
      case "--web-port":
        flags.webPort = num(take(), 0, arg);
        break;
      case "--convex-dir":
        flags.convexDir = take();
        break;
      case "--no-web":
        flags.noWeb = true;
        break;
      case "--dev-web":
        flags.devWeb = true;
        break;
      case "--allowed-hosts":
        flags.allowedHosts = parseHostList(take());
        break;
      case "-h":
      case "--help":
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`Unknown option ${arg}\n${USAGE}`);
    }
  }
  return flags;
}

function num(v: string | undefined, dflt: number, name: string): number {
  if (v === undefined || v === "") return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name}: not a port number: ${v}`);
  return n;
}
