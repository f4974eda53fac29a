# linetable_cases.py - constructs whose line tables have edge cases: lines
# that go backwards, instructions with no line, multi-line expressions,
# long jumps in line numbers, nested functions, comprehensions, lambdas,
# generators, decorators, try/finally. Compiled (never run) by
# dump_linetables.py.
import functools


def decorated(f):
    @functools.wraps(f)
    def wrapper(*a, **k):
        return f(*a, **k)
    return wrapper


@decorated
def multi_line(a,
               b):
    total = (a +
             b *
             a)
    return [x * x
            for x in range(total)
            if x % 3]


def backwards(n):
    while n > 0:
        n -= 1
        if n == 5:
            continue
    else:
        n = -1
    return n


def try_finally(path):
    try:
        f = open(path)
    except (IOError, OSError):
        return None
    finally:
        path = None
    return f


class Shapes(object):
    sizes = dict((k, k * 2) for k in range(4))

    def area(self, w, h):
        return (lambda x, y:
                x * y)(w, h)

    def gen(self):
        for i in range(3):
            yield i
        yield (
            i
        )










































































































































































































































































    def far(self):
        return 1 + \
            2


x = [Shapes().area(i, i) for i in range(3)]
