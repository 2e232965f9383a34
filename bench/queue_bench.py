# Python's side of queue_bench.ts: a child puts 100k small ints on a
# multiprocessing.Queue and the parent gets them; items per second, timed
# from the child's first item to the parent's last get. Prints JSON on its
# last line.
import json
import multiprocessing as mp
import statistics
import sys
import time


def produce(q, count):
    q.put(-1)
    for i in range(count):
        q.put(i)


def rate(count):
    q = mp.Queue()
    p = mp.Process(target=produce, args=(q, count))
    p.start()
    q.get()
    start = time.perf_counter()
    total = 0
    for _ in range(count):
        total += q.get()
    seconds = time.perf_counter() - start
    p.join()
    assert total == count * (count - 1) // 2
    return count / seconds


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    print(json.dumps({"rate": statistics.median(rate(count) for _ in range(runs))}))
