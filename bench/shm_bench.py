# Python's side of shm_bench.ts, for one start method (argv[1]: spawn or
# fork): uncontended Lock pairs per second, 2 children x 50k locked
# increments of a Value (from both ready to both joined), and a child's
# 200k element writes of an Array (timed in the child), 100k small ints
# through a Queue from a child, and 100k through one Queue from 4 producer
# children to 4 consumer children. JSON on the last line.
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


def counter_ms(ctx, times):
    counter = ctx.Value("i", 0)
    start = ctx.Barrier(3)
    children = [ctx.Process(target=work, args=(counter, times, start)) for _ in range(2)]
    for p in children:
        p.start()
    start.wait()
    ready = time.perf_counter()
    for p in children:
        p.join()
    end = time.perf_counter()
    assert counter.value == 2 * times, counter.value
    return (end - ready) * 1000


def write_elements(arr, n, took):
    start = time.perf_counter()
    for i in range(n):
        arr[i] = i
    took.value = (time.perf_counter() - start) * 1000


def array_ms(ctx, n):
    arr = ctx.Array("i", n)
    took = ctx.Value("d", 0.0)
    p = ctx.Process(target=write_elements, args=(arr, n, took))
    p.start()
    p.join()
    assert arr[n - 1] == n - 1
    return took.value


def produce(q, count):
    q.put(-1)
    for i in range(count):
        q.put(i)


def queue_rate(ctx, count):
    q = ctx.Queue()
    p = ctx.Process(target=produce, args=(q, count))
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


def mpmc_produce(q, first, count, start):
    start.wait()
    for i in range(first, first + count):
        q.put(i)


def mpmc_consume(q, tally, slot, start):
    start.wait()
    count = 0
    total = 0
    while True:
        item = q.get()
        if item == -1:
            break
        count += 1
        total += item
    tally[2 * slot] = count
    tally[2 * slot + 1] = total


def mpmc_rate(ctx, count):
    q = ctx.Queue()
    tally = ctx.Array("d", 8)
    start = ctx.Barrier(9)
    share = count // 4
    producers = [ctx.Process(target=mpmc_produce, args=(q, i * share, share, start)) for i in range(4)]
    consumers = [ctx.Process(target=mpmc_consume, args=(q, tally, i, start)) for i in range(4)]
    for p in producers + consumers:
        p.start()
    start.wait()
    ready = time.perf_counter()
    for p in producers:
        p.join()
    for _ in range(4):
        q.put(-1)
    for p in consumers:
        p.join()
    seconds = time.perf_counter() - ready
    assert sum(tally[0::2]) == count and sum(tally[1::2]) == count * (count - 1) // 2
    return count / seconds


if __name__ == "__main__":
    method = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    ctx = mp.get_context(method)
    lock = statistics.median(pairs_per_second(ctx.Lock(), 1_000_000) for _ in range(runs))
    counter = statistics.median(counter_ms(ctx, 50_000) for _ in range(runs))
    array = statistics.median(array_ms(ctx, 200_000) for _ in range(runs))
    queue = statistics.median(queue_rate(ctx, 100_000) for _ in range(runs))
    mpmc = statistics.median(mpmc_rate(ctx, 100_000) for _ in range(runs))
    print(json.dumps({"lock_pairs_per_s": lock, "counter_ms": counter, "array_ms": array, "queue_per_s": queue, "mpmc_per_s": mpmc}))
