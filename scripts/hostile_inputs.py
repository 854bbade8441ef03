#!/usr/bin/env python3
"""Hostile inputs for apiscope's memory and CPU bounds (standard library only).

    python3 scripts/hostile_inputs.py OUTDIR [--scale 1.0]

writes into OUTDIR:
  synflood.pcap      1M SYNs from distinct 4-tuples (half-open connections, ~70 MB)
  continue.pcap      one request answered by 3M `100 Continue` lines, then a 200 (~80 MB)
  empty-entries.har  6M empty HAR entries (`{}`), ~18 MB
  bombs.pcap         40 responses whose double-gzip bodies expand to 1 GiB each (~1 MB)

`--scale` multiplies the counts (0.01 for a quick check). Deterministic: the same scale gives
byte-identical files.
"""

import argparse
import gzip
import os
import struct
import zlib


def pcap_header():
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(src, dst, sport, dport, seq, ack, flags, payload=b""):
    """Ethernet + IPv4 + TCP (no options), checksums filled in."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    pseudo = struct.pack("!4s4sBBH", src, dst, 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    eth = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00"
    return eth + ip + tcp


def record(out, t_us, data):
    out.write(struct.pack("<IIII", t_us // 1_000_000, t_us % 1_000_000, len(data), len(data)))
    out.write(data)


SYN, ACK, PSH = 0x02, 0x10, 0x08
SERVER = bytes([198, 18, 0, 1])


def synflood(path, n):
    with open(path, "wb") as out:
        out.write(pcap_header())
        for i in range(n):
            src = bytes([198, 19, (i >> 16) & 0xFF, (i >> 8) & 0xFF])
            sport = 1024 + (i & 0xFF) * 200 + (i % 200)
            record(out, 1_700_000_000_000_000 + i * 10, frame(src, SERVER, sport, 80, (i * 7919) & 0xFFFFFFFF, 0, SYN))


def tcp_conversation(out, t_us, client_payloads, server_payloads, sport=40000):
    """A handshake, then every client payload, then every server payload, one segment each."""
    c, s = bytes([198, 19, 0, 9]), SERVER
    cseq, sseq = 1000, 5000
    record(out, t_us, frame(c, s, sport, 80, cseq, 0, SYN))
    record(out, t_us + 1, frame(s, c, 80, sport, sseq, cseq + 1, SYN | ACK))
    cseq, sseq = cseq + 1, sseq + 1
    record(out, t_us + 2, frame(c, s, sport, 80, cseq, sseq, ACK))
    t = t_us + 3
    for p in client_payloads:
        record(out, t, frame(c, s, sport, 80, cseq, sseq, ACK | PSH, p))
        cseq += len(p)
        t += 1
    for p in server_payloads:
        record(out, t, frame(s, c, 80, sport, sseq, cseq, ACK | PSH, p))
        sseq += len(p)
        t += 1
    return t


def continue_flood(path, n):
    line = b"HTTP/1.1 100 Continue\r\n\r\n"
    per_segment = 1400 // len(line)
    with open(path, "wb") as out:
        out.write(pcap_header())
        req = b"PUT /upload HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\ndata"
        segments = []
        left = n
        while left > 0:
            k = min(per_segment, left)
            segments.append(line * k)
            left -= k
        segments.append(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        tcp_conversation(out, 1_700_000_000_000_000, [req], segments)


def empty_entries(path, n):
    with open(path, "wb") as out:
        out.write(b'{"log":{"version":"1.2","creator":{"name":"x","version":"1"},"entries":[')
        chunk = b"{}," * 100_000
        full, rest = divmod(n, 100_000)
        for _ in range(full):
            out.write(chunk)
        out.write(b"{}," * rest)
        out.write(b"{}]}}")


def bombs(path, n, expanded):
    block = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * (1 << 20)
    inner = b"".join(block.compress(zeros) for _ in range(expanded >> 20)) + block.flush()
    body = gzip.compress(inner, 9)
    with open(path, "wb") as out:
        out.write(pcap_header())
        t = 1_700_000_000_000_000
        for i in range(n):
            req = b"GET /bomb/%d HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n" % i
            head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip, gzip\r\nContent-Length: %d\r\n\r\n" % len(body)
            payload = head + body
            segs = [payload[j : j + 1400] for j in range(0, len(payload), 1400)]
            t = tcp_conversation(out, t, [req], segs, sport=41000 + i) + 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--scale", type=float, default=1.0)
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    n = lambda x: max(1, int(x * a.scale))  # noqa: E731
    synflood(os.path.join(a.outdir, "synflood.pcap"), n(1_000_000))
    continue_flood(os.path.join(a.outdir, "continue.pcap"), n(3_000_000))
    empty_entries(os.path.join(a.outdir, "empty-entries.har"), n(6_000_000))
    bombs(os.path.join(a.outdir, "bombs.pcap"), n(40), max(1 << 20, n(1 << 30)) & ~((1 << 20) - 1))


if __name__ == "__main__":
    main()
