#!/usr/bin/env python3
"""Writes fixtures/gaps/violations.har and fixtures/gaps/conforming.har for
fixtures/gaps/gaps.openapi.yaml. Deterministic (no randomness, fixed clock).

violations.har plants every finding kind of `apiscope diff` at least once (the counts and
severities are asserted in tests/integration/spec.rs); conforming.har exercises the same
operations correctly, including /users/me next to /users/{id} and requests the server
rejected with a documented 4xx, and must give zero findings.
"""
import json
import os
import sys

BASE = "https://api.shop.example/v1"
T0 = 1710250200  # 2024-03-12T13:30:00Z
TOKEN_A = "Bearer tok-alpha-0001"
TOKEN_B = "Bearer tok-bravo-0002"


def iso(i):
    s = T0 + i
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + ".000Z"


def entry(i, method, url, status, req_headers=None, body=None, req_ct=None, resp_body=None,
          resp_ct="application/json", resp_headers=None, auth=TOKEN_A):
    hdrs = [{"name": "Host", "value": url.split("/")[2]},
            {"name": "User-Agent", "value": "shop-client/1.0"},
            {"name": "Accept", "value": "application/json"}]
    if auth:
        hdrs.append({"name": "Authorization", "value": auth})
    for k, v in (req_headers or []):
        hdrs.append({"name": k, "value": v})
    req = {"method": method, "url": url, "httpVersion": "HTTP/1.1", "headers": hdrs,
           "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0}
    if body is not None:
        text = body if isinstance(body, str) else json.dumps(body)
        ct = req_ct or "application/json"
        hdrs.append({"name": "Content-Type", "value": ct})
        req["postData"] = {"mimeType": ct, "text": text}
        req["bodySize"] = len(text.encode())
    rh = [{"name": "Server", "value": "shop"}]
    text = ""
    if resp_body is not None:
        text = resp_body if isinstance(resp_body, str) else json.dumps(resp_body)
        rh.append({"name": "Content-Type", "value": resp_ct})
    for k, v in (resp_headers or []):
        rh.append({"name": k, "value": v})
    resp = {"status": status, "statusText": "", "httpVersion": "HTTP/1.1", "headers": rh,
            "cookies": [], "content": {"size": len(text.encode()), "mimeType": resp_ct if text else "",
                                       "text": text},
            "redirectURL": "", "headersSize": -1, "bodySize": len(text.encode())}
    return {"startedDateTime": iso(i), "time": 12.5, "request": req, "response": resp,
            "cache": {}, "timings": {"send": 0.5, "wait": 11.0, "receive": 1.0}}


USER = {"id": 42, "name": "Ada", "email": None}
ORDER = {"id": "o-1", "symbol": "AAPL", "qty": 5, "side": "buy", "note": None}
ERR = {"error": {"code": "not_found", "message": "no such thing"}}


def conforming():
    e = []
    add = lambda *a, **k: e.append(entry(len(e), *a, **k))
    add("GET", BASE + "/users/me", 200, resp_body=USER,
        req_headers=[("X-Forwarded-For", "203.0.113.9"), ("traceparent", "00-ab-cd-01")])
    add("GET", BASE + "/users/42", 200, resp_body=dict(USER, manager={"id": 1, "name": "Boss"}))
    add("GET", BASE + "/users/999", 404, resp_body=ERR)
    add("GET", "https://eu.shop.example/v1/users/me", 200, resp_body=USER, auth=TOKEN_B)
    add("GET", BASE + "/orders?status=open&limit=20", 200,
        resp_body={"data": [ORDER], "next_cursor": None}, req_headers=[("X-Tenant", "acme")])
    add("POST", BASE + "/orders", 201, body={"symbol": "AAPL", "qty": 5, "side": "buy", "note": None},
        resp_body=ORDER, resp_headers=[("Location", "/v1/orders/o-1")],
        req_headers=[("Idempotency-Key", "3f2b1c9e-1111-4a2b-9c3d-0123456789ab")])
    # rejected by the server with a documented 4XX: conforming
    add("POST", BASE + "/orders", 422, body={"symbol": "ZZZZ", "qty": 100000, "side": "sell"},
        resp_body={"error": {"code": "insufficient_buying_power", "message": "no"}})
    add("GET", BASE + "/orders/o-1", 200, resp_body=ORDER)
    add("GET", BASE + "/orders/o-404", 404, resp_body=ERR)
    add("DELETE", BASE + "/orders/o-1", 204)
    add("DELETE", BASE + "/orders/o-1", 409, resp_body={"error": {"code": "conflict", "message": "x"}})
    add("GET", BASE + "/files/report.final.pdf", 200, resp_body="%PDF-ish", resp_ct="text/plain")
    add("GET", BASE + "/search?q=apple&tags=a,b&filter[min_qty]=3", 200, resp_body={"hits": 3}, auth=None)
    add("GET", BASE + "/ping", 200, auth=None)
    add("GET", BASE + "/users/me", 200, resp_body=USER, auth=None,
        req_headers=[("X-Api-Key", "k-123")])
    return e


def violations():
    e = []
    add = lambda *a, **k: e.append(entry(len(e), *a, **k))
    # undocumented_server x2 (warning)
    add("GET", "https://other.example.com/v1/users/me", 200, resp_body=USER)
    add("GET", "https://other.example.com/v1/users/me", 200, resp_body=USER)
    # undocumented_path: 12 distinct ids of one missing DELETE /v1/carts/{id} (warning, 1 finding)
    for n in range(12):
        add("DELETE", BASE + "/carts/%d" % (1000 + n), 200, resp_body={"ok": True},
            auth=TOKEN_A if n % 3 else TOKEN_B)
    # undocumented_path: scanner junk answered 404 (info)
    add("GET", BASE + "/../.env", 404, resp_body=ERR)
    # undocumented_method x2 (warning)
    add("PUT", BASE + "/orders/o-55", 200, body=ORDER, resp_body=ORDER)
    add("PUT", BASE + "/orders/o-56", 200, body=ORDER, resp_body=ORDER)
    # missing_required_parameter (error)
    add("GET", BASE + "/search", 200, resp_body={"hits": 0}, auth=None)
    # undocumented_query_parameter (warning)
    add("GET", BASE + "/orders?status=open&sort=name", 200, resp_body={"data": []})
    # undocumented_request_header (info)
    add("GET", BASE + "/users/me", 200, resp_body=USER, req_headers=[("X-Debug", "1")])
    # parameter_schema_violation (error): limit above maximum
    add("GET", BASE + "/orders?limit=500", 200, resp_body={"data": []})
    # request_body_undocumented (warning): DELETE with a body
    add("DELETE", BASE + "/orders/o-2", 204, body={"reason": "oops"})
    # request_body_missing (info: the server rejected it with a documented 4XX)
    add("POST", BASE + "/orders", 400, resp_body={"error": {"code": "invalid_request", "message": "body"}})
    # request_content_type_undocumented (error)
    add("POST", BASE + "/orders", 201, body="<order/>", req_ct="application/xml", resp_body=ORDER,
        resp_headers=[("Location", "/v1/orders/o-1")])
    # request_body_schema_violation (error): qty is a string
    add("POST", BASE + "/orders", 201, body={"symbol": "AAPL", "qty": "ten", "side": "buy"},
        resp_body=ORDER, resp_headers=[("Location", "/v1/orders/o-1")])
    # response_status_undocumented x2 (warning): 429 on GET /orders
    add("GET", BASE + "/orders", 429, resp_body={"error": {"code": "rate_limited", "message": "slow"}})
    add("GET", BASE + "/orders", 429, resp_body={"error": {"code": "rate_limited", "message": "slow"}})
    # response_content_type_undocumented (error)
    add("GET", BASE + "/users/42", 200, resp_body="<html></html>", resp_ct="text/html")
    # response_body_schema_violation (error): qty as a string
    add("GET", BASE + "/orders/o-8", 200, resp_body=dict(ORDER, qty="5"))
    # response_header_missing (error): 201 without Location
    add("POST", BASE + "/orders", 201, body={"symbol": "AAPL", "qty": 1, "side": "sell"}, resp_body=ORDER)
    # response_body_undocumented (warning)
    add("GET", BASE + "/ping", 200, resp_body={"pong": True}, auth=None)
    # security_credentials_missing (error: served without credentials)
    add("GET", BASE + "/users/7", 200, resp_body=dict(USER, id=7), auth=None)
    # deprecated_operation_used (warning)
    add("GET", BASE + "/legacy/report", 200, resp_body={})
    # deprecated_parameter_used (warning)
    add("GET", BASE + "/search?q=x&sort=asc", 200, resp_body={"hits": 1}, auth=None)
    # response_undocumented_property (info, --strict only)
    add("GET", BASE + "/users/me", 200, resp_body=dict(USER, nickname="ada"), auth=TOKEN_B)
    return e


def har(entries):
    return {"log": {"version": "1.2", "creator": {"name": "make_gaps_fixture.py", "version": "1"},
                    "entries": entries}}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fixtures", "gaps")
    for name, entries in (("violations.har", violations()), ("conforming.har", conforming())):
        with open(os.path.join(out, name), "w") as f:
            json.dump(har(entries), f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
