#!/usr/bin/env python3
"""Write a pcap of h2c (HTTP/2 with prior knowledge) API traffic of a target size.

Each connection: TCP handshake, client preface + SETTINGS, server SETTINGS, then batches of
multiplexed GET/POST streams (HEADERS with HPACK static-table and literal fields, DATA with
JSON bodies, END_STREAM), answered 200/201/404 by the server, then FIN both ways. Segments
carry at most 1448 payload bytes. Deterministic for a given seed.

Usage: gen_h2c_pcap.py --bytes 100M -o h2c.pcap [--seed 1] [--port 8080]
Writes OUT and OUT.truth.json (connections, requests, per-status counts).
"""
import argparse
import json
import random
import struct

MSS = 1448


def size_arg(s):
    mult = {"K": 10**3, "M": 10**6, "G": 10**9}
    return int(float(s[:-1]) * mult[s[-1]]) if s[-1] in mult else int(s)


def hint(n, prefix, flags=0):
    """HPACK integer with an N-bit prefix (RFC 7541 5.1)."""
    limit = (1 << prefix) - 1
    if n < limit:
        return bytes([flags | n])
    out = [flags | limit]
    n -= limit
    while n >= 128:
        out.append((n % 128) | 0x80)
        n //= 128
    out.append(n)
    return bytes(out)


def lit(name_index, value):
    """Literal without indexing, name from the static table (or a literal name when str)."""
    v = value.encode()
    if isinstance(name_index, int):
        return hint(name_index, 4) + hint(len(v), 7) + v
    n = name_index.encode()
    return b"\x00" + hint(len(n), 7) + n + hint(len(v), 7) + v


def frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS = frame(4, 0, 0, struct.pack(">HI", 3, 100) + struct.pack(">HI", 4, 65535))
SETTINGS_ACK = frame(4, 1, 0, b"")


class Writer:
    def __init__(self, f):
        self.f = f
        self.bytes = 24
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))

    def packet(self, ts, src, dst, sport, dport, seq, ack, flags, payload=b""):
        tcp = struct.pack(">HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0)
        total = 20 + len(tcp) + len(payload)
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, src, dst)
        eth = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
        rec = eth + ip + tcp + payload
        sec, usec = divmod(ts, 1_000_000)
        self.f.write(struct.pack("<IIII", sec, usec, len(rec), len(rec)))
        self.f.write(rec)
        self.bytes += 16 + len(rec)


class Side:
    def __init__(self, addr, port, isn):
        self.addr, self.port, self.seq = addr, port, isn


def send(w, ts, a, b, data):
    """Send data from a to b in MSS segments; returns the new timestamp."""
    for i in range(0, len(data), MSS):
        chunk = data[i : i + MSS]
        w.packet(ts, a.addr, b.addr, a.port, b.port, a.seq, b.seq, 0x18, chunk)
        a.seq += len(chunk)
        ts += 7
    return ts


PATHS = ["/v1/quotes/AAPL", "/v1/quotes/MSFT", "/v1/portfolio", "/v1/orders", "/v1/instruments?page=2", "/v1/missing"]


def body(rng, n):
    items = ",".join('{"id":%d,"sym":"S%04d","px":"%d.%02d"}' % (i, rng.randrange(9999), rng.randrange(999), rng.randrange(99)) for i in range(n))
    return ('{"items":[%s]}' % items).encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bytes", type=size_arg, default=size_arg("100M"))
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--port", type=int, default=8080)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    truth = {"generator": "gen_h2c_pcap.py", "connections": 0, "requests": 0, "status": {}}
    ts = 1_700_000_000_000_000
    with open(args.out, "wb") as f:
        w = Writer(f)
        conn = 0
        while w.bytes < args.bytes:
            conn += 1
            c = Side(bytes([198, 18, (conn >> 8) & 255, conn & 255]), 20000 + conn % 40000, rng.randrange(1 << 32))
            s = Side(bytes([198, 19, 0, 1]), args.port, rng.randrange(1 << 32))
            w.packet(ts, c.addr, s.addr, c.port, s.port, c.seq, 0, 0x02)
            c.seq += 1
            w.packet(ts + 50, s.addr, c.addr, s.port, c.port, s.seq, c.seq, 0x12)
            s.seq += 1
            w.packet(ts + 100, c.addr, s.addr, c.port, s.port, c.seq, s.seq, 0x10)
            ts += 200
            ts = send(w, ts, c, s, PREFACE + SETTINGS)
            ts = send(w, ts + 100, s, c, SETTINGS + SETTINGS_ACK)
            ts = send(w, ts + 50, c, s, SETTINGS_ACK)
            stream = 1
            for _batch in range(rng.randrange(2, 12)):
                reqs, resps = b"", b""
                for _ in range(rng.randrange(1, 6)):
                    path = rng.choice(PATHS)
                    post = path == "/v1/orders"
                    hb = (b"\x83" if post else b"\x82") + b"\x86" + lit(4, path) + lit(1, "api.example") + lit("user-agent", "bench/1.0")
                    if post:
                        order = b'{"sym":"AAPL","qty":%d}' % rng.randrange(1, 500)
                        hb += lit(31, "application/json")
                        reqs += frame(1, 0x4, stream, hb) + frame(0, 0x1, stream, order)
                    else:
                        reqs += frame(1, 0x5, stream, hb)
                    status = 404 if path == "/v1/missing" else (201 if post else 200)
                    payload = b'{"error":"not found"}' if status == 404 else body(rng, rng.randrange(1, 40))
                    rh = {200: b"\x88", 404: b"\x8d"}.get(status, lit(8, "201")) + lit(31, "application/json") + lit(28, str(len(payload)))
                    resps += frame(1, 0x4, stream, rh) + frame(0, 0x1, stream, payload)
                    truth["requests"] += 1
                    truth["status"][str(status)] = truth["status"].get(str(status), 0) + 1
                    stream += 2
                ts = send(w, ts + 1000, c, s, reqs)
                ts = send(w, ts + rng.randrange(500, 20000), s, c, resps)
            ts = send(w, ts + 100, c, s, frame(7, 0, 0, struct.pack(">II", 0, 0)))
            w.packet(ts, c.addr, s.addr, c.port, s.port, c.seq, s.seq, 0x11)
            c.seq += 1
            w.packet(ts + 30, s.addr, c.addr, s.port, c.port, s.seq, c.seq, 0x11)
            s.seq += 1
            w.packet(ts + 60, c.addr, s.addr, c.port, s.port, c.seq, s.seq, 0x10)
            ts += 1000
        truth["connections"] = conn
    with open(args.out + ".truth.json", "w") as t:
        json.dump(truth, t)
    print(f"wrote {args.out}: {w.bytes} bytes, {truth['connections']} connections, {truth['requests']} requests")


if __name__ == "__main__":
    main()
