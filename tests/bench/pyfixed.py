#!/usr/bin/python3
# pyfixed - a fixed Python job for bench_sample_floor.py (--fixture):
#
#     pyfixed.py -n N
#
# N units of pure-Python work (a 20,000-step LCG loop each) split over 64
# threads, each at a depth of ~12 frames; the GIL makes them share about
# one CPU and hand it over to one another all the time, as a busy
# threaded Python service does. The interpreter is the one of the line
# above (Debian's CPython 3.11 here).
import sys
import threading

THREADS = 64


def unit():
    x = 0x2545F491
    for _ in range(20000):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x


def deep(k, units):
    if k:
        return deep(k - 1, units)
    for _ in range(units):
        unit()


def main():
    n = int(sys.argv[sys.argv.index("-n") + 1])
    share = -(-n // THREADS)
    threads = [threading.Thread(target=deep, args=(10, share), name="w%d" % i)
               for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
