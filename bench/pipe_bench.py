# Python's side of pipe_bench.ts: median microseconds per round trip of a
# small message (an int, and a small dict) over multiprocessing.Pipe with a
# child that echoes it, started the default way and with "spawn" (beside a
# subprocess child there). Prints JSON on its last line.
import json
import multiprocessing as mp
import statistics
import sys
import time


def echo(conn):
    # A forked child holds a copy of the parent's end too, so it would never
    # see EOF: None says stop.
    conn.send("ready")
    while True:
        message = conn.recv()
        if message is None:
            return
        conn.send(message)


def small_object(i):
    return {"id": i, "name": "task", "args": [1, 2.5, "x"], "done": False}


def round_trip_us(n, make, ctx=mp):
    here, there = ctx.Pipe()
    p = ctx.Process(target=echo, args=(there,))
    p.start()
    there.close()
    here.recv()
    for i in range(1000):
        here.send(make(i))
        here.recv()
    start = time.perf_counter()
    for i in range(n):
        here.send(make(i))
        here.recv()
    us = (time.perf_counter() - start) * 1e6 / n
    here.send(None)
    p.join()
    here.close()
    return us


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    ints = statistics.median(round_trip_us(n, int) for _ in range(runs))
    objects = statistics.median(
        round_trip_us(n, small_object) for _ in range(runs)
    )
    spawn = mp.get_context("spawn")
    spawn_ints = statistics.median(
        round_trip_us(n, int, spawn) for _ in range(runs)
    )
    spawn_objects = statistics.median(
        round_trip_us(n, small_object, spawn) for _ in range(runs)
    )
    print(json.dumps({
        "us": ints,
        "object_us": objects,
        "spawn_us": spawn_ints,
        "spawn_object_us": spawn_objects,
    }))
