#!/usr/bin/env python3
"""Writes the HAR pairs of fixtures/compare/ used by the `compare` tests.

- shape-a.har: the baseline, 12 calls of GET /v1/portfolio and 12 of GET /v1/quotes?symbols=.
- shape-b.har: the same calls from a changed back end: `cash` is gone from the portfolio,
  `positions[].qty` is a string instead of a number, `quotes.exchange` answers a new value.
- shape-b-same.har: the same structure as A with other values (a conforming pair).

Deterministic (no randomness); run from the repository root.
"""
import json
import os

OUT = os.path.join("fixtures", "compare")


def entry(i, path, body, wait_ms, client):
    text = json.dumps(body, separators=(",", ":"))
    start = "2024-03-12T13:%02d:%02d.000Z" % (i // 60, i % 60)
    return {
        "startedDateTime": start,
        "time": wait_ms + 1.0,
        "request": {
            "method": "GET",
            "url": "http://api.tradeco.example" + path,
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": [
                {"name": "Host", "value": "api.tradeco.example"},
                {"name": "User-Agent", "value": "TradeCoApp/5.12.1"},
                {"name": "Authorization", "value": "Bearer token-%s" % client},
            ],
            "queryString": [],
            "headersSize": -1,
            "bodySize": 0,
        },
        "response": {
            "status": 200,
            "statusText": "OK",
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": [{"name": "Content-Type", "value": "application/json"}],
            "content": {"size": len(text), "mimeType": "application/json", "text": text},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": len(text),
        },
        "cache": {},
        "timings": {"send": 0.1, "wait": wait_ms, "receive": 0.9},
    }


def portfolio(i, variant):
    qty = 10 + i
    pos = {"symbol": ["AAPL", "MSFT", "NVDA"][i % 3], "qty": qty, "price": 100.5 + i}
    body = {"account": "ACC-%d" % (1000 + i), "positions": [pos], "cash": 2500.25 + i, "currency": "USD"}
    if variant == "b":
        del body["cash"]
        pos["qty"] = str(qty)
    if variant == "same":
        body["cash"] = 9000.0 - i
        pos["price"] = 50.25 + i
    return body


def quote(i, variant):
    exchange = ["NASDAQ", "NYSE"][i % 2]
    if variant == "b" and i % 3 == 0:
        exchange = "BATS"
    return {"symbol": ["AAPL", "MSFT", "NVDA"][i % 3], "bid": 2.5 + i, "ask": 2.6 + i, "exchange": exchange}


def har(variant):
    entries = []
    for i in range(12):
        entries.append(entry(2 * i, "/v1/portfolio", portfolio(i, variant), 20.0 + i, "c%d" % (i % 3)))
        sym = ["AAPL", "MSFT", "NVDA"][i % 3]
        entries.append(entry(2 * i + 1, "/v1/quotes?symbols=" + sym, quote(i, variant), 5.0 + i, "c%d" % (i % 3)))
    return {"log": {"version": "1.2", "creator": {"name": "make_compare_fixtures", "version": "1"}, "entries": entries}}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, variant in [("shape-a.har", "a"), ("shape-b.har", "b"), ("shape-b-same.har", "same")]:
        with open(os.path.join(OUT, name), "w") as f:
            json.dump(har(variant), f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
