#!/usr/bin/env python3
"""Synthesize an HTTPS capture (pcap) and its NSS key log, for decryption benchmarks.

Usage: gen_tls_capture.py OUT.pcap [--bytes 100M] [--seed 1]
Writes OUT.pcap, OUT.keylog and OUT.truth.json. Needs python3 with `cryptography`.

Each connection: TCP handshake, a ClientHello / ServerHello (TLS 1.3 or 1.2, suites in
turn: TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256,
ECDHE-RSA-AES128-GCM-SHA256, ECDHE-RSA-CHACHA20-POLY1305), the encrypted rest of the
handshake (TLS 1.3: EncryptedExtensions with ALPN + Finished; TLS 1.2: ChangeCipherSpec +
Finished), then 4 keep-alive GETs answered by 64 KiB bodies in full 16 KiB records, cut
into 1448-byte TCP segments, and a FIN. Deterministic for a seed.
"""
import argparse, hashlib, hmac, json, random, struct
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305


def size(s):
    m = {'K': 10**3, 'M': 10**6, 'G': 10**9}
    return int(float(s[:-1]) * m[s[-1]]) if s[-1] in m else int(s)


def expand_label(h, secret, label, n):
    full = b'tls13 ' + label
    info = struct.pack('>HB', n, len(full)) + full + b'\x00'
    out, t, i = b'', b'', 1
    while len(out) < n:
        t = hmac.new(secret, t + info + bytes([i]), h).digest()
        out += t
        i += 1
    return out[:n]


def prf(secret, label, seed, n):
    out, a = b'', hmac.new(secret, label + seed, hashlib.sha256).digest()
    while len(out) < n:
        out += hmac.new(secret, a + label + seed, hashlib.sha256).digest()
        a = hmac.new(secret, a, hashlib.sha256).digest()
    return out[:n]


def xor_nonce(iv, seq):
    s = (b'\x00' * 4) + struct.pack('>Q', seq)
    return bytes(a ^ b for a, b in zip(iv, s))


class Dir13:
    def __init__(self, aead_cls, h, klen, secret):
        self.aead = aead_cls(expand_label(h, secret, b'key', klen))
        self.iv = expand_label(h, secret, b'iv', 12)
        self.seq = 0

    def seal(self, ctype, data):
        inner = data + bytes([ctype])
        hdr = struct.pack('>BHH', 23, 0x0303, len(inner) + 16)
        ct = self.aead.encrypt(xor_nonce(self.iv, self.seq), inner, hdr)
        self.seq += 1
        return hdr + ct


class Dir12:
    def __init__(self, chacha, key, iv):
        self.chacha = chacha
        self.aead = ChaCha20Poly1305(key) if chacha else AESGCM(key)
        self.iv = iv
        self.seq = 0

    def seal(self, ctype, data):
        aad = struct.pack('>QBHH', self.seq, ctype, 0x0303, len(data))
        if self.chacha:
            body = self.aead.encrypt(xor_nonce(self.iv, self.seq), data, aad)
        else:
            explicit = struct.pack('>Q', self.seq)
            body = explicit + self.aead.encrypt(self.iv + explicit, data, aad)
        self.seq += 1
        return struct.pack('>BHH', ctype, 0x0303, len(body)) + body


def record(ctype, version, data):
    return struct.pack('>BHH', ctype, version, len(data)) + data


def hs(t, body):
    return bytes([t]) + struct.pack('>I', len(body))[1:] + body


def ext(t, data):
    return struct.pack('>HH', t, len(data)) + data


ALPN = ext(16, struct.pack('>H', 9) + b'\x08http/1.1')


def client_hello(rnd, sid, suite, tls13):
    sni_name = b'bench.example'
    sni = ext(0, struct.pack('>HBH', len(sni_name) + 3, 0, len(sni_name)) + sni_name)
    exts = sni + ALPN + ext(23, b'')
    if tls13:
        exts += ext(43, b'\x02\x03\x04') + ext(51, struct.pack('>H', 0))
    body = struct.pack('>H', 0x0303) + rnd + bytes([len(sid)]) + sid + struct.pack('>HH', 2, suite) + b'\x01\x00'
    return hs(1, body + struct.pack('>H', len(exts)) + exts)


def server_hello(rnd, sid, suite, tls13):
    exts = ext(43, b'\x03\x04') if tls13 else ALPN + ext(23, b'') + ext(0xff01, b'\x00')
    body = struct.pack('>H', 0x0303) + rnd + bytes([len(sid)]) + sid + struct.pack('>H', suite) + b'\x00'
    return hs(2, body + struct.pack('>H', len(exts)) + exts)


SUITES = [
    (0x1301, True, AESGCM, hashlib.sha256, 16),
    (0x1302, True, AESGCM, hashlib.sha384, 32),
    (0x1303, True, ChaCha20Poly1305, hashlib.sha256, 32),
    (0xC02F, False, False, None, 16),
    (0xCCA8, False, True, None, 32),
]


class Pcap:
    def __init__(self, f):
        self.f = f
        self.ts = 1_700_000_000_000_000
        self.n = 0
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 262144, 1))

    def packet(self, src, dst, sport, dport, seq, ack, flags, payload=b''):
        tcp = struct.pack('>HHIIBBHHH', sport, dport, seq & 0xffffffff, ack & 0xffffffff, 5 << 4, flags, 65535, 0, 0)
        total = 20 + len(tcp) + len(payload)
        ip = struct.pack('>BBHHHBBH4s4s', 0x45, 0, total, 0, 0x4000, 64, 6, 0, src, dst)
        c = sum(struct.unpack('>10H', ip))
        c = (c & 0xffff) + (c >> 16)
        c = (c & 0xffff) + (c >> 16)
        ip = ip[:10] + struct.pack('>H', ~c & 0xffff) + ip[12:]
        frame = b'\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00' + ip + tcp + payload
        self.ts += 7
        self.f.write(struct.pack('<IIII', self.ts // 1_000_000, self.ts % 1_000_000, len(frame), len(frame)) + frame)
        self.n += 1


def connection(pc, rng, cid, keylog, body_len, requests):
    suite, tls13, a, h, klen = SUITES[cid % len(SUITES)]
    cip = bytes([10, 0, (cid >> 8) & 255, cid & 255])
    sip = bytes([10, 1, 0, 1])
    cport, sport = 20000 + cid % 40000, 443
    cseq, sseq = rng.getrandbits(32), rng.getrandbits(32)
    pc.packet(cip, sip, cport, sport, cseq, 0, 0x02)
    pc.packet(sip, cip, sport, cport, sseq, cseq + 1, 0x12)
    cseq += 1
    sseq += 1
    pc.packet(cip, sip, cport, sport, cseq, sseq, 0x10)
    st = {'c': cseq, 's': sseq}

    def send(side, data):
        for i in range(0, len(data), 1448):
            chunk = data[i:i + 1448]
            if side == 'c':
                pc.packet(cip, sip, cport, sport, st['c'], st['s'], 0x18, chunk)
            else:
                pc.packet(sip, cip, sport, cport, st['s'], st['c'], 0x18, chunk)
            st[side] += len(chunk)

    crnd, srnd, sid = rng.randbytes(32), rng.randbytes(32), rng.randbytes(32)
    send('c', record(22, 0x0301, client_hello(crnd, sid, suite, tls13)))
    if tls13:
        hl = h().digest_size
        sec = {k: rng.randbytes(hl) for k in ('chs', 'shs', 'cap', 'sap')}
        for label, k in (('CLIENT_HANDSHAKE_TRAFFIC_SECRET', 'chs'), ('SERVER_HANDSHAKE_TRAFFIC_SECRET', 'shs'),
                         ('CLIENT_TRAFFIC_SECRET_0', 'cap'), ('SERVER_TRAFFIC_SECRET_0', 'sap')):
            keylog.write(f'{label} {crnd.hex()} {sec[k].hex()}\n')
        shs, chs = Dir13(a, h, klen, sec['shs']), Dir13(a, h, klen, sec['chs'])
        flight = hs(8, struct.pack('>H', len(ALPN)) + ALPN) + hs(20, rng.randbytes(hl))
        send('s', record(22, 0x0303, server_hello(srnd, sid, suite, True)) + record(20, 0x0303, b'\x01')
             + shs.seal(22, flight))
        send('c', record(20, 0x0303, b'\x01') + chs.seal(22, hs(20, rng.randbytes(hl))))
        cd, sd = Dir13(a, h, klen, sec['cap']), Dir13(a, h, klen, sec['sap'])
    else:
        master = rng.randbytes(48)
        keylog.write(f'CLIENT_RANDOM {crnd.hex()} {master.hex()}\n')
        ivl = 12 if a else 4
        kb = prf(master, b'key expansion', srnd + crnd, 2 * (klen + ivl))
        ck, sk, civ, siv = kb[:klen], kb[klen:2 * klen], kb[2 * klen:2 * klen + ivl], kb[2 * klen + ivl:]
        cd, sd = Dir12(a, ck, civ), Dir12(a, sk, siv)
        send('s', record(22, 0x0303, server_hello(srnd, sid, suite, False) + hs(14, b'')))
        send('c', record(20, 0x0303, b'\x01') + cd.seal(22, hs(20, rng.randbytes(12))))
        send('s', record(20, 0x0303, b'\x01') + sd.seal(22, hs(20, rng.randbytes(12))))
    body = (b'{"symbol":"AAPL","bid":189.91,"ask":189.95,"ts":1700000000}\n' * (body_len // 60 + 1))[:body_len]
    for r in range(requests):
        req = f'GET /v1/quotes/{cid}/{r} HTTP/1.1\r\nHost: bench.example\r\nUser-Agent: bench\r\n\r\n'.encode()
        send('c', cd.seal(23, req))
        resp = (f'HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nContent-Length: {body_len}\r\n\r\n'.encode()
                + body)
        out = b''.join(sd.seal(23, resp[i:i + 16384]) for i in range(0, len(resp), 16384))
        send('s', out)
    pc.packet(cip, sip, cport, sport, st['c'], st['s'], 0x11)
    pc.packet(sip, cip, sport, cport, st['s'], st['c'] + 1, 0x11)
    pc.packet(cip, sip, cport, sport, st['c'] + 1, st['s'] + 1, 0x10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('out')
    ap.add_argument('--bytes', default='100M')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--body', type=int, default=65536)
    ap.add_argument('--requests', type=int, default=4)
    a = ap.parse_args()
    target, rng = size(a.bytes), random.Random(a.seed)
    conns = 0
    with open(a.out, 'wb') as f, open(a.out + '.keylog', 'w') as kl:
        pc = Pcap(f)
        while f.tell() < target:
            connection(pc, rng, conns, kl, a.body, a.requests)
            conns += 1
    with open(a.out + '.truth.json', 'w') as t:
        json.dump({'generator': 'gen_tls_capture.py', 'connections': conns, 'requests': conns * a.requests,
                   'response_body_bytes': conns * a.requests * a.body, 'packets': pc.n}, t)
        t.write('\n')
    print(f'wrote {a.out}: {conns} connections, {conns * a.requests} requests, {pc.n} packets')


if __name__ == '__main__':
    main()
