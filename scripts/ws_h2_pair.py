#!/usr/bin/env python3
"""WebSocket over HTTP/2 (RFC 8441 extended CONNECT) between a server and a client on
127.0.0.1, cleartext h2 with prior knowledge, standard library only, for loopback captures
with known messages.

  ws_h2_pair.py PORT [--truth OUT.truth.json]

One connection. The server announces SETTINGS_ENABLE_CONNECT_PROTOCOL. Stream 1 is an
extended CONNECT (`:protocol websocket`) agreeing on permessage-deflate with context
takeover: the client sends a compressed subscribe, the server 6 compressed price updates
(one WebSocket frame split over two DATA frames, two frames sharing one DATA frame), one
uncompressed binary frame and a ping; the client answers a pong, then closes with 1000; the
server closes with 1000; both sides END_STREAM. Stream 3 is an extended CONNECT without
extensions: 3 text messages from the server, a fragmented text message (two frames), then
the server closes with 1001 and ends the stream. Stream 5 is a plain GET. The truth file
counts messages per stream, direction and kind.
"""
import json, os, socket, struct, sys, threading, time, zlib

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, SETTINGS = 0, 1, 4
END_STREAM, END_HEADERS, ACK = 1, 4, 1


def h2frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def hint(n, prefix, flags=0):
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


def block(fields):
    """HPACK: every field a literal without indexing with a literal name (no Huffman)."""
    out = b""
    for name, value in fields:
        n, v = name.encode(), value.encode()
        out += b"\x00" + hint(len(n), 7) + n + hint(len(v), 7) + v
    return out


def wsframe(op, payload, fin=True, rsv1=False, mask=False):
    b1 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | op
    n = len(payload)
    m = 0x80 if mask else 0
    hdr = bytes([b1, m | n]) if n < 126 else bytes([b1, m | 126]) + struct.pack(">H", n)
    if mask:
        key = os.urandom(4)
        payload = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
        hdr += key
    return hdr + payload


class Deflater:
    def __init__(self):
        self.z = zlib.compressobj(6, zlib.DEFLATED, -15)

    def __call__(self, data):
        out = self.z.compress(data) + self.z.flush(zlib.Z_SYNC_FLUSH)
        return out[:-4]


def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def read_h2(s):
    h = read_exact(s, 9)
    n = int.from_bytes(h[:3], "big")
    return h[3], h[4], int.from_bytes(h[5:9], "big") & 0x7FFFFFFF, read_exact(s, n)


def wait_for(s, pred):
    """Read frames until one satisfies pred(kind, flags, stream, payload)."""
    while True:
        f = read_h2(s)
        if pred(*f):
            return f


def server(sock):
    c, _ = sock.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    read_exact(c, len(PREFACE))
    c.sendall(h2frame(SETTINGS, 0, 0, struct.pack(">HI", 8, 1)))
    wait_for(c, lambda k, fl, st, p: k == SETTINGS and not fl & ACK)
    c.sendall(h2frame(SETTINGS, ACK, 0, b""))
    # Stream 1: deflate.
    wait_for(c, lambda k, fl, st, p: k == HEADERS and st == 1)
    c.sendall(h2frame(HEADERS, END_HEADERS, 1, block([(":status", "200"), ("sec-websocket-extensions", "permessage-deflate")])))
    wait_for(c, lambda k, fl, st, p: k == DATA and st == 1)  # subscribe
    d = Deflater()
    frames = [wsframe(1, d(json.dumps({"seq": i, "symbol": "AAPL", "bid": 172.1 + i, "note": "price update " * 3}).encode()), rsv1=True) for i in range(6)]
    c.sendall(h2frame(DATA, 0, 1, frames[0]))
    half = len(frames[1]) // 2
    c.sendall(h2frame(DATA, 0, 1, frames[1][:half]))
    time.sleep(0.005)
    c.sendall(h2frame(DATA, 0, 1, frames[1][half:]))
    c.sendall(h2frame(DATA, 0, 1, frames[2] + frames[3]))
    for f in frames[4:]:
        time.sleep(0.005)
        c.sendall(h2frame(DATA, 0, 1, f))
    c.sendall(h2frame(DATA, 0, 1, wsframe(2, bytes(range(16)))))
    c.sendall(h2frame(DATA, 0, 1, wsframe(9, b"hb")))
    wait_for(c, lambda k, fl, st, p: k == DATA and st == 1)  # pong
    wait_for(c, lambda k, fl, st, p: k == DATA and st == 1)  # close
    c.sendall(h2frame(DATA, END_STREAM, 1, wsframe(8, struct.pack(">H", 1000))))
    # Stream 3: no extensions.
    wait_for(c, lambda k, fl, st, p: k == HEADERS and st == 3)
    c.sendall(h2frame(HEADERS, END_HEADERS, 3, block([(":status", "200")])))
    for i in range(3):
        time.sleep(0.005)
        c.sendall(h2frame(DATA, 0, 3, wsframe(1, json.dumps({"seq": i, "symbol": "MSFT"}).encode())))
    c.sendall(h2frame(DATA, 0, 3, wsframe(1, b'{"part":', fin=False) + wsframe(0, b'"one"}')))
    c.sendall(h2frame(DATA, 0, 3, wsframe(8, struct.pack(">H", 1001) + b"going away")))
    wait_for(c, lambda k, fl, st, p: k == DATA and st == 3)  # client close
    c.sendall(h2frame(DATA, END_STREAM, 3, b""))
    # Stream 5: a plain GET.
    wait_for(c, lambda k, fl, st, p: k == HEADERS and st == 5)
    body = b'{"symbol":"AAPL","bid":172.1}'
    c.sendall(h2frame(HEADERS, END_HEADERS, 5, block([(":status", "200"), ("content-type", "application/json")])))
    c.sendall(h2frame(DATA, END_STREAM, 5, body))
    time.sleep(0.05)
    c.close()


def client(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(PREFACE + h2frame(SETTINGS, 0, 0, b""))
    wait_for(s, lambda k, fl, st, p: k == SETTINGS and not fl & ACK)
    s.sendall(h2frame(SETTINGS, ACK, 0, b""))
    auth = "127.0.0.1:%d" % port

    def connect(stream, path, ext):
        fields = [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"), (":path", path),
                  (":authority", auth), ("sec-websocket-version", "13")]
        if ext:
            fields.append(("sec-websocket-extensions", "permessage-deflate"))
        s.sendall(h2frame(HEADERS, END_HEADERS, stream, block(fields)))
        wait_for(s, lambda k, fl, st, p: k == HEADERS and st == stream)

    connect(1, "/v1/ws/prices", True)
    d = Deflater()
    s.sendall(h2frame(DATA, 0, 1, wsframe(1, d(b'{"op":"subscribe","symbols":["AAPL"]}'), rsv1=True, mask=True)))
    wait_for(s, lambda k, fl, st, p: k == DATA and st == 1 and p[:1] == b"\x89")  # the ping
    s.sendall(h2frame(DATA, 0, 1, wsframe(10, b"hb", mask=True)))
    s.sendall(h2frame(DATA, END_STREAM, 1, wsframe(8, struct.pack(">H", 1000), mask=True)))
    wait_for(s, lambda k, fl, st, p: k == DATA and st == 1 and fl & END_STREAM)
    connect(3, "/v1/ws/quotes", False)
    wait_for(s, lambda k, fl, st, p: k == DATA and st == 3 and p[:1] == b"\x88")
    s.sendall(h2frame(DATA, END_STREAM, 3, wsframe(8, struct.pack(">H", 1001), mask=True)))
    wait_for(s, lambda k, fl, st, p: k == DATA and st == 3 and fl & END_STREAM)
    s.sendall(h2frame(HEADERS, END_HEADERS | END_STREAM, 5, block([(":method", "GET"), (":scheme", "http"), (":path", "/v1/quotes/AAPL"), (":authority", auth)])))
    wait_for(s, lambda k, fl, st, p: k == DATA and st == 5 and fl & END_STREAM)
    time.sleep(0.05)
    s.close()


TRUTH = {
    "generator": "ws_h2_pair.py",
    "exchanges": 3,
    "websocket_streams": 2,
    "streams": {
        "1": {"send": {"text": 1, "pong": 1, "close": 1}, "receive": {"text": 6, "binary": 1, "ping": 1, "close": 1},
              "compressed_text": 7, "end": "client close 1000"},
        "3": {"send": {"close": 1}, "receive": {"text": 4, "close": 1}, "end": "server close 1001"},
    },
    "messages_total": 18,
}


def main():
    port = int(sys.argv[1])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1)
    t = threading.Thread(target=server, args=(sock,))
    t.start()
    client(port)
    t.join()
    if "--truth" in sys.argv:
        with open(sys.argv[sys.argv.index("--truth") + 1], "w") as f:
            json.dump(TRUTH, f, indent=1)


if __name__ == "__main__":
    main()
