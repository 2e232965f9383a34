# Python's side of bulk_bench.ts: the same large-message work over
# multiprocessing (spawn): median ms per 10 MiB round trip for each path,
# and the scaling of a send_bytes round trip from 1 KiB to 100 MiB. Prints
# JSON on its last line.
import array
import json
import multiprocessing as mp
import statistics
import sys
import time

MiB = 1024 * 1024


def echo_bytes(conn):
    while True:
        message = conn.recv_bytes()
        if not message:
            return
        conn.send_bytes(message)


def echo_bytes_into(conn):
    buffer = bytearray(STEADY_SIZE)
    while True:
        n = conn.recv_bytes_into(buffer)
        if n == 0:
            return
        conn.send_bytes(buffer, 0, n)


def echo(conn):
    while True:
        message = conn.recv()
        if message is None:
            return
        conn.send(message)


def queue_echo(inq, outq):
    while True:
        message = inq.get()
        if message is None:
            return
        outq.put(message)


def identity(x):
    return x


def timed(trip, runs):
    trip()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        trip()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def pipe_rows(ctx, runs, size):
    here, there = ctx.Pipe()
    p = ctx.Process(target=echo_bytes, args=(there,))
    p.start()
    there.close()
    payload = bytes(size)

    def bytes_trip():
        here.send_bytes(payload)
        here.recv_bytes()

    rows = {"sendBytes": timed(bytes_trip, runs)}
    here.send_bytes(b"")
    p.join()
    here.close()

    here, there = ctx.Pipe()
    p = ctx.Process(target=echo, args=(there,))
    p.start()
    there.close()
    values = {
        "Uint8Array": bytes(size),
        "ArrayBuffer": bytearray(size),
        "Float64Array": array.array("d", bytes(size)),
    }
    for name, value in values.items():
        def trip(value=value):
            here.send(value)
            here.recv()
        rows[name] = timed(trip, runs)
    here.send(None)
    p.join()
    here.close()
    return rows


def queue_row(ctx, runs, size):
    inq, outq = ctx.Queue(), ctx.Queue()
    p = ctx.Process(target=queue_echo, args=(inq, outq))
    p.start()
    payload = bytes(size)

    def trip():
        inq.put(payload)
        outq.get()

    ms = timed(trip, runs)
    inq.put(None)
    p.join()
    return ms


def pool_row(ctx, runs, size):
    payload = bytes(size)
    with ctx.Pool(1) as pool:
        return timed(lambda: pool.map(identity, [payload]), runs)


STEADY_SIZE = 64 * 1024
STEADY_WARMUP_RUNS = 8


def trips_for(size):
    return min(1000, max(1, round(32 * MiB / size)))


def echo_trips(here, size):
    """A run of send_bytes round trips of one payload of size bytes, and how many."""
    payload = b"\x01" * size
    trips = trips_for(size)

    def run():
        for _ in range(trips):
            here.send_bytes(payload)
            here.recv_bytes()

    return run, trips


def scaling(ctx, sizes, runs):
    here, there = ctx.Pipe()
    p = ctx.Process(target=echo_bytes, args=(there,))
    p.start()
    there.close()
    rows = {}
    for size in sizes:
        run, trips = echo_trips(here, size)
        rows[str(size)] = timed(run, runs) / trips
        del run
    # The same 64 KiB trips once warm, as the Deno side times them.
    warm, trips = echo_trips(here, STEADY_SIZE)
    for _ in range(STEADY_WARMUP_RUNS):
        warm()
    rows["steady"] = timed(warm, runs) / trips
    here.send_bytes(b"")
    p.join()
    here.close()
    return rows


def into_scaling(ctx, runs):
    """ms per 64 KiB round trip from a new pipe, both sides receiving with
    recv_bytes_into one buffer each, after the same 1 KiB trips as scaling."""
    here, there = ctx.Pipe()
    p = ctx.Process(target=echo_bytes_into, args=(there,))
    p.start()
    there.close()
    buffer = bytearray(STEADY_SIZE)

    def run_of(size):
        payload = b"\x01" * size
        trips = trips_for(size)

        def run():
            for _ in range(trips):
                here.send_bytes(payload)
                here.recv_bytes_into(buffer)

        return run

    timed(run_of(1024), runs)
    ms = timed(run_of(STEADY_SIZE), runs) / trips_for(STEADY_SIZE)
    here.send_bytes(b"")
    p.join()
    here.close()
    return ms


if __name__ == "__main__":
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    sizes = [int(s) for s in sys.argv[2].split(",")] if len(sys.argv) > 2 else [1024, 64 * 1024, MiB, 10 * MiB, 100 * MiB]
    ctx = mp.get_context("spawn")
    result = pipe_rows(ctx, runs, 10 * MiB)
    result["Queue"] = queue_row(ctx, runs, 10 * MiB)
    result["Pool.map"] = pool_row(ctx, runs, 10 * MiB)
    result["scaling"] = scaling(ctx, sizes, runs)
    result["into64"] = into_scaling(ctx, runs)
    print(json.dumps(result))
