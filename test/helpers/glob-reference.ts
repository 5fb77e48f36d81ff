// The documented meaning of an allowedMatches glob, by plain recursion
// (exponential; for tiny inputs only): `**` any run, `*` any run without "/",
// `?` one character but "/", anything else itself. Independent of
// convex/model/glob.ts, which tests compare against it.
export function refGlob(glob: string, name: string): boolean {
  if (glob.length === 0) return name.length === 0;
  if (glob.startsWith("**")) {
    for (let i = 0; i <= name.length; i++) if (refGlob(glob.slice(2), name.slice(i))) return true;
    return false;
  }
  if (glob[0] === "*") {
    for (let i = 0; i <= name.length; i++) {
      if (i > 0 && name[i - 1] === "/") break;
      if (refGlob(glob.slice(1), name.slice(i))) return true;
    }
    return false;
  }
  if (name.length === 0) return false;
  if (glob[0] === "?") return name[0] !== "/" && refGlob(glob.slice(1), name.slice(1));
  return glob[0] === name[0] && refGlob(glob.slice(1), name.slice(1));
}
