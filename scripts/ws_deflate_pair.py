#!/usr/bin/env python3
"""A WebSocket server and client on 127.0.0.1 that agree on permessage-deflate (RFC 7692)
and exchange compressed text messages, for loopback captures that check decompression.

  ws_deflate_pair.py PORT [--no-context-takeover]

Runs the server in a thread and the client in the main thread (standard library only).
The server sends 6 compressed text messages sharing one deflate context (unless
--no-context-takeover), then a close; the client sends 2 compressed messages and a close.
"""
import base64, hashlib, json, os, socket, struct, sys, threading, zlib

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(op, payload, rsv1=False, mask=False):
    b1 = 0x80 | (0x40 if rsv1 else 0) | op
    n = len(payload)
    m = 0x80 if mask else 0
    hdr = bytes([b1, m | n]) if n < 126 else bytes([b1, m | 126]) + struct.pack(">H", n)
    if mask:
        key = os.urandom(4)
        payload = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
        hdr += key
    return hdr + payload


def read_frame(f):
    h = f.read(2)
    if len(h) < 2:
        return None
    n = h[1] & 0x7F
    if n == 126:
        n = struct.unpack(">H", f.read(2))[0]
    key = f.read(4) if h[1] & 0x80 else None
    data = f.read(n)
    if key:
        data = bytes(c ^ key[i % 4] for i, c in enumerate(data))
    return h[0] & 0x0F, data


class Deflater:
    def __init__(self, takeover):
        self.takeover = takeover
        self.z = zlib.compressobj(6, zlib.DEFLATED, -15)

    def __call__(self, data):
        if not self.takeover:
            self.z = zlib.compressobj(6, zlib.DEFLATED, -15)
        out = self.z.compress(data) + self.z.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(b"\x00\x00\xff\xff")
        return out[:-4]


def server(sock, takeover):
    c, _ = sock.accept()
    f = c.makefile("rb")
    key = ""
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"sec-websocket-key:"):
            key = line.split(b":", 1)[1].strip().decode()
    acc = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    ext = "permessage-deflate" + ("" if takeover else "; server_no_context_takeover; client_no_context_takeover")
    c.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Extensions: %s\r\n\r\n" % (acc, ext)).encode())
    d = Deflater(takeover)
    read_frame(f)
    for i in range(6):
        msg = json.dumps({"seq": i, "symbol": "AAPL", "bid": 172.1 + i, "note": "price update " * 3})
        c.sendall(frame(1, d(msg.encode()), rsv1=True))
    read_frame(f)  # client text
    read_frame(f)  # client close
    c.sendall(frame(8, struct.pack(">H", 1000)))
    c.close()


def client(port, takeover):
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rb")
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /v1/ws/deflate HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n" % (port, key)).encode())
    while f.readline() not in (b"\r\n", b""):
        pass
    d = Deflater(takeover)
    s.sendall(frame(1, d(b'{"op":"subscribe","symbols":["AAPL"]}'), rsv1=True, mask=True))
    for _ in range(6):
        read_frame(f)
    s.sendall(frame(1, d(b'{"op":"unsubscribe","symbols":["AAPL"]}'), rsv1=True, mask=True))
    s.sendall(frame(8, struct.pack(">H", 1000), mask=True))
    read_frame(f)
    s.close()


def main():
    port = int(sys.argv[1])
    takeover = "--no-context-takeover" not in sys.argv
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1)
    t = threading.Thread(target=server, args=(sock, takeover))
    t.start()
    client(port, takeover)
    t.join()


if __name__ == "__main__":
    main()
