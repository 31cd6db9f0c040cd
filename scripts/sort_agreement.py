"""How often /rank mode "sort" agrees with mode "full" (the reference's N(N-1) matrix): top-1
agreement and Kendall tau over random instances, against a live server.

  python3 scripts/sort_agreement.py --port 8080 [--instances 20] [--min 6] [--max 10] [--seed 1]

Standard library only (uses clients/python through sys.path). Prints one line per instance and
a summary with the forwards each mode spent.
"""

import argparse
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "clients", "python"))
import pairranker_client as pc  # noqa: E402

WORDS = ("the answer is four because two and two make four which is the sum of both numbers "
         "perhaps five or maybe it depends on the base you count in some say twenty two").split()


def kendall_tau(a, b):
    n = len(a)
    s = 0
    for i in range(n):
        for j in range(i + 1, n):
            x = (a[i] - a[j]) * (b[i] - b[j])
            s += (x > 0) - (x < 0)
    return s / (n * (n - 1) / 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--instances", type=int, default=20)
    ap.add_argument("--min", type=int, default=6)
    ap.add_argument("--max", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    c = pc.Client(f"http://127.0.0.1:{args.port}", timeout=3600)
    top1 = 0
    taus = []
    forwards = {"full": 0, "sort": 0}
    for k in range(args.instances):
        n = rng.randint(args.min, args.max)
        q = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 15))) + "?"
        cands = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 30))) for _ in range(n)]
        full = c.rank(q, cands)
        sort = c.post("/rank", {"input": q, "candidates": cands, "mode": "sort", "seed": k})
        for mode, r in (("full", full), ("sort", sort)):
            forwards[mode] += r["usage"]["pairs"] + r["usage"].get("cached", 0)
        # Ranks: 1 is best. Top-1: the sort's best is one of full's best (ties share rank 1).
        best_sort = [i for i, r in enumerate(sort["ranks"]) if r == 1]
        agree = any(full["ranks"][i] == 1 for i in best_sort)
        top1 += agree
        tau = kendall_tau([-r for r in full["ranks"]], [-r for r in sort["ranks"]])
        taus.append(tau)
        print(f"instance {k:3d}: {n:2d} candidates, top-1 {'agrees' if agree else 'differs'}, Kendall tau {tau:.3f}", flush=True)
    print(f"{args.instances} instances of {args.min}-{args.max} candidates: top-1 agreement {top1 / args.instances:.2f}, "
          f"mean Kendall tau {sum(taus) / len(taus):.2f}, forwards full {forwards['full']} vs sort {forwards['sort']}")


if __name__ == "__main__":
    main()
