# Python's side of connection_bench.ts: median microseconds per round trip
# of a small message between a multiprocessing.connection Client and a
# Listener in a child process that echoes it, over TCP loopback and a Unix
# socket, with an authkey. Prints JSON on its last line.
#
# `python3 connection_bench.py serve ADDRESS KEY` is also the echo server
# the Deno side talks to: it prints its address, then echoes one client.
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from multiprocessing.connection import Client, Listener

KEY = b"bench key"


def echo(conn):
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        conn.send(message)


def serve(address, key, ready):
    with Listener(address, authkey=key) as listener:
        ready.send(listener.address)
        ready.close()
        with listener.accept() as conn:
            echo(conn)


def round_trip_us(address, n):
    here, there = mp.Pipe()
    p = mp.Process(target=serve, args=(address, KEY, there))
    p.start()
    address = here.recv()
    with Client(address, authkey=KEY) as conn:
        for i in range(1000):
            conn.send(i)
            conn.recv()
        start = time.perf_counter()
        for i in range(n):
            conn.send(i)
            conn.recv()
        us = (time.perf_counter() - start) * 1e6 / n
    p.join()
    return us


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        where = sys.argv[2]
        address = where if where.startswith("/") else ("127.0.0.1", int(where))
        with Listener(address, authkey=sys.argv[3].encode()) as listener:
            print(json.dumps(listener.address), flush=True)
            with listener.accept() as conn:
                echo(conn)
        sys.exit(0)
    n = int(sys.argv[1])
    runs = int(sys.argv[2])
    tcp = statistics.median(round_trip_us(("127.0.0.1", 0), n) for _ in range(runs))
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "bench.sock")
        unix = statistics.median(round_trip_us(path, n) for _ in range(runs))
    print(json.dumps({"tcp": tcp, "unix": unix}))
