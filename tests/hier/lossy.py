#!/usr/bin/python3
# lossy.py — a UDP relay that loses a fixed share of the queries it relays.
#
# Why it exists: a real authoritative server behind a bad link loses some
# queries, which neither NSD, Knot nor badserver.py can do (badserver drops
# everything).  This relay sits on its own address in front of a real
# server (the "backend") and drops each UDP query with probability RATE
# (1/3 by default), drawn from a random generator with a fixed seed, so a
# run loses the same queries every time it sees the same sequence.  The
# queries it keeps go to the backend with a fresh ID; the backend's reply
# goes back to the client with the client's ID.  TCP is relayed whole and
# never dropped (a stream loses nothing; the resolver's fallback to TCP is
# not what this tests).
#
#   lossy.py LISTEN_ADDR BACKEND_ADDR [--port 53] [--rate 0.3333] [--seed 8]
#            [--count FILE] [--stats FILE]
#
# --count FILE: "QUERIES TCP_QUERIES" received so far, as badserver.py
#   writes it, so hier.count() reports the relay like any other server
#   (a relayed TCP connection counts as one query).
# --stats FILE: JSON {"received", "dropped", "forwarded", "answered", "tcp"}.
import argparse
import asyncio
import json
import os
import random
import struct
import time

PENDING_MAX_AGE = 10.0   # seconds a relayed query waits for the backend


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class Relay:
    def __init__(self, backend, port, rate, seed, count_file, stats_file):
        self.backend = (backend, port)
        self.rate, self.rng = rate, random.Random(seed)
        self.count_file, self.stats_file = count_file, stats_file
        self.st = {"received": 0, "dropped": 0, "forwarded": 0, "answered": 0, "tcp": 0}
        self.pending = {}     # upstream ID -> (client ID, client addr, time sent)
        self.next_id = 0
        self.front = self.back = None

    def save(self):
        if self.count_file:
            write_atomic(self.count_file, f"{self.st['received']} {self.st['tcp']}\n")
        if self.stats_file:
            write_atomic(self.stats_file, json.dumps(self.st) + "\n")

    def free_id(self):
        """An upstream ID not in use; stale entries are forgotten first."""
        if len(self.pending) > 30000:
            old = time.monotonic() - PENDING_MAX_AGE
            self.pending = {k: v for k, v in self.pending.items() if v[2] > old}
        for _ in range(65536):
            self.next_id = (self.next_id + 1) & 0xffff
            if self.next_id not in self.pending:
                return self.next_id
        return None

    def from_client(self, data, addr):
        if len(data) < 12:
            return
        self.st["received"] += 1
        if self.rng.random() < self.rate:
            self.st["dropped"] += 1
        else:
            uid = self.free_id()
            if uid is not None:
                cid = struct.unpack("!H", data[:2])[0]
                self.pending[uid] = (cid, addr, time.monotonic())
                self.back.sendto(struct.pack("!H", uid) + data[2:], self.backend)
                self.st["forwarded"] += 1
        self.save()

    def from_backend(self, data):
        if len(data) < 12:
            return
        uid = struct.unpack("!H", data[:2])[0]
        entry = self.pending.pop(uid, None)
        if entry is None:
            return
        self.front.sendto(struct.pack("!H", entry[0]) + data[2:], entry[1])
        self.st["answered"] += 1


class Front(asyncio.DatagramProtocol):
    def __init__(self, relay):
        self.relay = relay

    def connection_made(self, transport):
        self.relay.front = transport

    def datagram_received(self, data, addr):
        self.relay.from_client(data, addr)


class Back(asyncio.DatagramProtocol):
    def __init__(self, relay):
        self.relay = relay

    def connection_made(self, transport):
        self.relay.back = transport

    def datagram_received(self, data, addr):
        if addr == self.relay.backend:
            self.relay.from_backend(data)


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def tcp_client(relay, reader, writer):
    relay.st["tcp"] += 1
    relay.st["received"] += 1
    relay.save()
    try:
        br, bw = await asyncio.open_connection(*relay.backend)
    except OSError:
        writer.close()
        return
    await asyncio.gather(pipe(reader, bw), pipe(br, writer))


async def main():
    ap = argparse.ArgumentParser(description="UDP relay that drops a share of queries")
    ap.add_argument("listen")
    ap.add_argument("backend")
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--rate", type=float, default=1 / 3)
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--count")
    ap.add_argument("--stats")
    a = ap.parse_args()
    relay = Relay(a.backend, a.port, a.rate, a.seed, a.count, a.stats)
    relay.save()
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(lambda: Back(relay), local_addr=(a.listen, 0))
    await loop.create_datagram_endpoint(lambda: Front(relay), local_addr=(a.listen, a.port))
    server = await asyncio.start_server(lambda r, w: tcp_client(relay, r, w), a.listen, a.port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
