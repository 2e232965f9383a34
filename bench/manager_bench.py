# Python's side of manager_bench.ts: median microseconds per set+get pair on
# a Manager().dict() proxy. Prints JSON on its last line.
import json
import statistics
import sys
import time
from multiprocessing import Manager


def set_get_us(d, n):
    for i in range(500):
        d["k"] = i
        d["k"]
    start = time.perf_counter()
    for i in range(n):
        d["k"] = i
        d["k"]
    return (time.perf_counter() - start) * 1e6 / n


if __name__ == "__main__":
    n = int(sys.argv[1])
    runs = int(sys.argv[2])
    with Manager() as manager:
        d = manager.dict()
        print(json.dumps({"us": statistics.median(set_get_us(d, n) for _ in range(runs))}))
