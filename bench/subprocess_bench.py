# Python's side of subprocess_bench.ts: acquire()+release() pairs per second
# of a multiprocessing.Manager() Lock from a child process: each call is a
# round trip to the manager process, as a proxied call of a subprocess child
# is to its home process. Prints JSON on its last line.
import json
import multiprocessing as mp
import statistics
import time


def pairs(lock, rounds, out):
    for _ in range(100):
        lock.acquire()
        lock.release()
    start = time.perf_counter()
    for _ in range(rounds):
        lock.acquire()
        lock.release()
    out.put((time.perf_counter() - start) * 1000 / rounds)


if __name__ == "__main__":
    mp.set_start_method("spawn")
    with mp.Manager() as manager:
        lock = manager.Lock()
        out = mp.Queue()
        times = []
        for _ in range(5):
            p = mp.Process(target=pairs, args=(lock, 2000, out))
            p.start()
            times.append(out.get())
            p.join()
        print(json.dumps({"manager_lock_pair_ms": statistics.median(times)}))
