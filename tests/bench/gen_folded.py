#!/usr/bin/env python3
"""Write a large folded file for the SVG benchmark: 100,000 distinct stacks,
depths 8 to 64, long C++-style names (about 75 MB). Deterministic (seeded).

usage: gen_folded.py OUT [--stacks N]
"""
import argparse
import random


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--stacks", type=int, default=100000)
    a = ap.parse_args()
    rnd = random.Random(5)
    spaces = ["std", "asio", "app", "net", "llvm", "absl"]
    types = ["int", "char*", "Req&", "long", "T", "Node*"]
    pool = []
    for i in range(4000):
        pool.append("%s::C%d::f%d<%s>(%s)" % (
            rnd.choice(spaces), i % 97, i, rnd.choice(types)[:1], rnd.choice(types)))
    seen = set()
    with open(a.out, "w") as f:
        # Stacks share prefixes as real ones do: a few roots, branching below.
        while len(seen) < a.stacks:
            depth = rnd.randint(8, 64)
            frames = ["bench", "_start", "__libc_start_main", "main"]
            for d in range(depth - 4):
                # Shallow frames come from a small set, deep ones from all.
                width = min(len(pool), 3 + d * d * 4)
                frames.append(pool[rnd.randrange(width)])
            line = ";".join(frames)
            if line in seen:
                continue
            seen.add(line)
            f.write("%s %d\n" % (line, rnd.randint(1, 1000)))


if __name__ == "__main__":
    main()
