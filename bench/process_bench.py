# Python's side of process_bench.ts: median start()+join() of a trivial
# target, for the spawn and fork start methods. Prints JSON on its last line.
import json
import multiprocessing as mp
import statistics
import sys
import time


def noop():
    pass


def median_ms(method, runs, warmup=3):
    ctx = mp.get_context(method)
    times = []
    for i in range(warmup + runs):
        start = time.perf_counter()
        p = ctx.Process(target=noop)
        p.start()
        p.join()
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


if __name__ == "__main__":
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    print(json.dumps({"spawn": median_ms("spawn", runs), "fork": median_ms("fork", runs)}))
