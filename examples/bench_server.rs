//! A small HTTP/1.1 server for `scripts/bench_replay.sh`: listens on 127.0.0.1 (port from the
//! first argument, 0 = any; the port is printed on standard output), answers every request
//! `200` with a small JSON body on keep-alive connections, one thread per connection, and
//! exits after the number of seconds given as the second argument (default 120).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let lifetime: u64 = args.next().and_then(|p| p.parse().ok()).unwrap_or(120);
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind 127.0.0.1");
    println!("{}", listener.local_addr().expect("local address").port());
    let _ = std::io::stdout().flush();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(lifetime));
        std::process::exit(0);
    });
    for conn in listener.incoming().flatten() {
        std::thread::spawn(move || serve(conn));
    }
}

/// Answer requests on one connection until the client closes it.
fn serve(conn: TcpStream) {
    let _ = conn.set_nodelay(true);
    let Ok(mut out) = conn.try_clone() else { return };
    let mut r = BufReader::new(conn);
    let body = br#"{"id":1,"name":"item","price":5}"#;
    let head = format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len());
    let mut line = String::new();
    loop {
        let mut length = 0usize;
        let mut first = true;
        loop {
            line.clear();
            match r.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" || line == "\n" {
                if first {
                    continue;
                }
                break;
            }
            first = false;
            if let Some((n, v)) = line.split_once(':') {
                if n.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        if length > 0 {
            let mut skip = vec![0u8; length];
            if r.read_exact(&mut skip).is_err() {
                return;
            }
        }
        let mut resp = Vec::with_capacity(head.len() + body.len());
        resp.extend_from_slice(head.as_bytes());
        resp.extend_from_slice(body);
        if out.write_all(&resp).is_err() {
            return;
        }
    }
}
