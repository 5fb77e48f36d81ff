/** The CLI's version, and the User-Agent its requests carry (the device list shows "keyhole CLI on Linux"). */
import os from "node:os";

export const VERSION = "0.1.0";

const OS_NAMES: Record<string, string> = { Linux: "Linux", Darwin: "macOS", Windows_NT: "Windows" };

/** e.g. `keyhole-cli/0.1.0 (Linux; x64) node/v20.20.2` */
export function userAgent(): string {
  const system = OS_NAMES[os.type()] ?? os.type();
  return `keyhole-cli/${VERSION} (${system}; ${process.arch}) node/${process.version}`;
}
