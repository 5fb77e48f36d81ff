import { readFileSync } from "node:fs";
import { rowsOf } from "../lib/rows";
import { formatTable } from "../lib/report";
for (const n of ["local", "sessions", "authorize"]) console.log(formatTable(rowsOf(n, JSON.parse(readFileSync(`bench/results/${n}.json`, "utf8")))));
