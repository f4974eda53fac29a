#!/usr/bin/env python3
"""Benchmark fixture: a fixed amount of pure-Python work under a ~50-frame
Python stack, for tests/bench/bench_python.py.

    python pystack50.py [-n UNITS] [--depth 45]

Each unit descends `descend` DEPTH frames deep (default 45) and there runs
three leaves with the same loop body for 6, 3 and 1 parts of the unit's
iterations. With `<module>`, `main` and `unit` the leaves sit 49 Python
frames deep.

Expected profile (CPU time, any CPython 3.x):
  leaf share   leaf_a 60 %, leaf_b 30 %, leaf_c 10 % (within ~3 points; the
               descent and the loop overheads are a fraction of a percent)
  callers      every leaf under <module> > main > unit > descend x DEPTH
The work is fixed by UNITS, so wall times of runs are comparable: about
0.1 s per 10 units on this machine with 3.12 (ITER iterations per unit).
"""
import argparse
import sys

ITER = 100000  # loop iterations per unit, split 6:3:1 over the leaves


def leaf_a(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def leaf_b(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def leaf_c(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def descend(depth):
    if depth > 0:
        return descend(depth - 1)
    return leaf_a(ITER * 6 // 10) + leaf_b(ITER * 3 // 10) + leaf_c(ITER // 10)


def unit(depth):
    return descend(depth)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=100, help="units of work")
    ap.add_argument("--depth", type=int, default=45, help="frames of descend")
    args = ap.parse_args()
    sys.setrecursionlimit(max(1000, args.depth + 100))
    total = 0
    for _ in range(args.n):
        total += unit(args.depth)
    return 0 if total else 1


if __name__ == "__main__":
    sys.exit(main())
