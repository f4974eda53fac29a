#!/usr/bin/env python3
"""Write a large folded file for the SVG benchmark. Deterministic (seeded).

Two shapes:
  shared (default)  100,000 distinct stacks, depths 8 to 64, long C++-style
                    names from a pool of 4,000 (about 80 MB); stacks share
                    long prefixes, as a real program's do.
  random-tree       100,000 stacks, depths 8 to 64, walks down a random call
                    tree over 40,000 names (about 80 MB): every function has
                    its own callees, so stacks part after a few frames and
                    share little; the merged tree has almost as many nodes
                    as the input has frames.

usage: gen_folded.py OUT [--stacks N] [--shape shared|random-tree] [--seed N]

The first N lines of a file are the file of N stacks (a slice for slow
tools: `head -n 20000`).
"""
import argparse
import random


def shared(f, stacks, seed):
    rnd = random.Random(5 if seed is None else seed)
    spaces = ["std", "asio", "app", "net", "llvm", "absl"]
    types = ["int", "char*", "Req&", "long", "T", "Node*"]
    pool = []
    for i in range(4000):
        pool.append("%s::C%d::f%d<%s>(%s)" % (
            rnd.choice(spaces), i % 97, i, rnd.choice(types)[:1], rnd.choice(types)))
    seen = set()
    # Stacks share prefixes as real ones do: a few roots, branching below.
    while len(seen) < stacks:
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


# The random call tree: NAMES functions, each calling CALLEES others picked
# at random; a stack is a walk from main down this graph.
NAMES = 40000
CALLEES = 12


def random_tree(f, stacks, seed):
    rnd = random.Random(16 if seed is None else seed)
    spaces = ["std", "net", "app", "db", "ui", "io", "rt", "gfx"]
    names = ["%s::Mod%d::func%d()" % (rnd.choice(spaces), i % 211, i) for i in range(NAMES)]
    callees = [[rnd.randrange(NAMES) for _ in range(CALLEES)] for _ in range(NAMES)]
    for _ in range(stacks):
        depth = rnd.randint(8, 64)
        cur = 0
        frames = ["main"]
        for _ in range(depth - 1):
            cur = callees[cur][rnd.randrange(CALLEES)]
            frames.append(names[cur])
        f.write("%s %d\n" % (";".join(frames), rnd.randint(1, 1000)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--stacks", type=int, default=100000)
    ap.add_argument("--shape", choices=["shared", "random-tree"], default="shared")
    ap.add_argument("--seed", type=int, help="another input of the same shape "
                    "(the AFTER of a diff)")
    a = ap.parse_args()
    with open(a.out, "w") as f:
        if a.shape == "shared":
            shared(f, a.stacks, a.seed)
        else:
            random_tree(f, a.stacks, a.seed)


if __name__ == "__main__":
    main()
