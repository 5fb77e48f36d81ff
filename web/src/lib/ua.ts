/** A short, human name for a user agent: "Chrome on Linux", "keyhole CLI on macOS", "Node.js". */
export function describeUserAgent(ua: string | null | undefined): string {
  if (!ua) return "Unknown client";
  // The CLI says `keyhole-cli/0.1.0 (Linux; x64) node/v20.20.2` (cli/lib/version.ts).
  const cli = /^keyhole-cli\/\S+ \(([^;)]+)/.exec(ua);
  if (cli) return `keyhole CLI on ${cli[1]}`;
  if (/keyhole/i.test(ua)) return "keyhole CLI";
  if (/^node|Node\.js|undici/i.test(ua)) return "Node.js";
  if (/HeadlessChrome/.test(ua)) return `Headless Chrome on ${os(ua)}`;
  const browser = /Edg\//.test(ua)
    ? "Edge"
    : /OPR\//.test(ua)
      ? "Opera"
      : /Firefox\//.test(ua)
        ? "Firefox"
        : /Chrom(e|ium)\//.test(ua)
          ? "Chrome"
          : /Safari\//.test(ua)
            ? "Safari"
            : /curl\//i.test(ua)
              ? "curl"
              : null;
  if (browser === null) return ua.length > 40 ? `${ua.slice(0, 40)}…` : ua;
  return `${browser} on ${os(ua)}`;
}

function os(ua: string): string {
  if (/Android/.test(ua)) return "Android";
  if (/iPhone|iPad|iPod/.test(ua)) return "iOS";
  if (/Mac OS X|Macintosh/.test(ua)) return "macOS";
  if (/Windows/.test(ua)) return "Windows";
  if (/CrOS/.test(ua)) return "ChromeOS";
  if (/Linux/.test(ua)) return "Linux";
  return "an unknown OS";
}
