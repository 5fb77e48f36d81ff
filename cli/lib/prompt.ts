/** Terminal prompts (on stderr) and stdin reading for non-interactive use. */
import { createInterface } from "node:readline/promises";
import { CliError } from "./errors";

export class Interrupted extends Error {}

export function stdinIsTTY(): boolean {
  return process.stdin.isTTY === true;
}

/** All of stdin, as text. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

/** The first line of stdin, without its line ending. */
export async function readStdinLine(): Promise<string> {
  const text = await readStdin();
  return text.split(/\r?\n/)[0] ?? "";
}

export async function promptLine(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const ac = new AbortController();
  rl.on("SIGINT", () => ac.abort());
  try {
    return (await rl.question(question, { signal: ac.signal })).trim();
  } catch (e) {
    if ((e as Error).name === "AbortError") {
      process.stderr.write("\n");
      throw new Interrupted();
    }
    throw e;
  } finally {
    rl.close();
  }
}

/** Reads a line from the terminal without echoing it. */
export function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) throw new CliError("cannot prompt for a password: stdin is not a terminal");
  return new Promise((resolve, reject) => {
    process.stderr.write(question);
    let chars: string[] = [];
    const finish = () => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n" || ch === "\u0004") {
          finish();
          resolve(chars.join(""));
          return;
        }
        if (ch === "\u0003") {
          finish();
          reject(new Interrupted());
          return;
        }
        if (ch === "\u007f" || ch === "\b") chars = chars.slice(0, -1);
        else if (ch === "\u0015") chars = []; // Ctrl-U
        else if (ch >= " ") chars.push(ch);
      }
    };
    stdin.setEncoding("utf8");
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on("data", onData);
  });
}
