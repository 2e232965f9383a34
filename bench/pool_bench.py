# Python's side of pool_bench.ts, the same work on Pool(2): a map of 100k
# tiny tasks with its default chunksize (8 chunks of 12,500), a map of 20k
# with chunksize 1, a burst of 5,000 apply_async, and 2,000 apply one after
# another; medians. Prints JSON on its last line.
import json
import statistics
import sys
import time
from multiprocessing import Pool


def inc(x):
    return x + 1


def median_time(fn, runs):
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    per_task, burst, sequential = 20_000, 5_000, 2_000
    items = list(range(n))
    with Pool(2) as pool:
        pool.map(inc, items[:1000])

        def chunked():
            assert pool.map(inc, items)[-1] == n

        def one_a_message():
            assert pool.map(inc, items[:per_task], chunksize=1)[-1] == per_task

        def bursts():
            calls = [pool.apply_async(inc, (i,)) for i in range(burst)]
            assert [c.get() for c in calls][-1] == burst

        def one_after_another():
            for i in range(sequential):
                pool.apply(inc, (i,))

        print(json.dumps({
            "tiny_per_s": n / median_time(chunked, runs),
            "per_task_per_s": per_task / median_time(one_a_message, 3),
            "burst_per_s": burst / median_time(bursts, runs),
            "sequential_us": median_time(one_after_another, 3) / sequential * 1e6,
        }))
