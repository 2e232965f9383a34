# Python's side of lock_bench.ts: uncontended acquire()+release() pairs per
# second of multiprocessing.Lock and RLock, and 2 children x 50k locked
# increments of a shared Value. Prints JSON on its last line.
import json
import multiprocessing as mp
import statistics
import sys
import time


def pairs_per_second(lock, n):
    start = time.perf_counter()
    for _ in range(n):
        lock.acquire()
        lock.release()
    return n / (time.perf_counter() - start)


def work(counter, times, start):
    start.wait()
    lock = counter.get_lock()
    for _ in range(times):
        with lock:
            counter.value += 1


def counter_ms(times):
    """ms from the moment both children are ready to both joined, and from start() to join()."""
    counter = mp.Value("i", 0)
    start = mp.Barrier(3)
    began = time.perf_counter()
    children = [mp.Process(target=work, args=(counter, times, start)) for _ in range(2)]
    for p in children:
        p.start()
    start.wait()
    ready = time.perf_counter()
    for p in children:
        p.join()
    end = time.perf_counter()
    assert counter.value == 2 * times, counter.value
    return (end - ready) * 1000, (end - began) * 1000


if __name__ == "__main__":
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    n = 1_000_000
    lock = statistics.median(pairs_per_second(mp.Lock(), n) for _ in range(runs))
    rlock = statistics.median(pairs_per_second(mp.RLock(), n) for _ in range(runs))
    counts = [counter_ms(50_000) for _ in range(runs)]
    print(json.dumps({
        "lock_pairs_per_s": lock,
        "rlock_pairs_per_s": rlock,
        "counter_ms": statistics.median(c[0] for c in counts),
        "counter_total_ms": statistics.median(c[1] for c in counts),
    }))
