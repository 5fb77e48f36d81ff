import { createPeerAuth, seedPeerKeys, verifyPeerKey } from "../peer/auth";
for (const storage of ["sqlite", "memory"] as const) {
  const p = await createPeerAuth({ storage });
  const t = Date.now();
  const keys = await seedPeerKeys(p, 200);
  console.log(storage, p.storage, "seed 200", Date.now() - t, "ms");
  const t2 = Date.now();
  for (const k of keys) if (!(await verifyPeerKey(p, k))) throw new Error("bad");
  console.log("verify 200", Date.now() - t2, "ms", await verifyPeerKey(p, "nope"), await verifyPeerKey(p, keys[0]));
}
