# Python's side of pool_bench.ts: Pool(2).map of 100k tiny tasks with its
# default chunksize, median tasks per second. Prints JSON on its last line.
import json
import statistics
import sys
import time
from multiprocessing import Pool


def inc(x):
    return x + 1


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    items = list(range(n))
    with Pool(2) as pool:
        pool.map(inc, items[:1000])
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            results = pool.map(inc, items)
            times.append(time.perf_counter() - start)
            assert results[-1] == n
    print(json.dumps({"tiny_per_s": n / statistics.median(times)}))
