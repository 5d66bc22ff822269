//! Replays real Packer 1.6.6 captures against our yamux server and compares our bytes with the
//! Go plugin's bytes.
//!
//! A scripted "plugin" performs, in order, the stream operations visible in `plugin2core.bin`
//! (open, accept, write, half-close), while the driver feeds `core2plugin.bin` in the chunks the
//! proxy read (`events.jsonl`), each only after our output has caught up to the point where the
//! real plugin had written. The complete output must equal `plugin2core.bin` byte for byte, and
//! every stream must deliver exactly the payload core sent on it.
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use packer_rpc::broker::Broker;
use packer_rpc::mux::Session;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};

#[derive(Debug, Clone)]
struct RawFrame {
    ty: u8,
    flags: u16,
    stream: u32,
    payload: Vec<u8>,
}

fn parse_frames(mut b: &[u8]) -> Vec<RawFrame> {
    let mut out = Vec::new();
    while !b.is_empty() {
        assert!(b.len() >= 12, "truncated header");
        let ty = b[1];
        let flags = u16::from_be_bytes([b[2], b[3]]);
        let stream = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
        let length = u32::from_be_bytes([b[8], b[9], b[10], b[11]]);
        let plen = if ty == 0 { length as usize } else { 0 };
        let payload = b[12..12 + plen].to_vec();
        out.push(RawFrame {
            ty,
            flags,
            stream,
            payload,
        });
        b = &b[12 + plen..];
    }
    out
}

struct Event {
    core2plugin: bool,
    off: usize,
    len: usize,
}

fn parse_events(text: &str) -> Vec<Event> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            Event {
                core2plugin: v["dir"] == "core2plugin",
                off: v["off"].as_u64().unwrap() as usize,
                len: v["len"].as_u64().unwrap() as usize,
            }
        })
        .collect()
}

fn capture_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/packer-1.6.6-captures")
        .join(name)
}

const SYN: u16 = 1;
const ACK: u16 = 2;
const FIN: u16 = 4;

/// The plugin's side of the capture, as stream operations.
async fn run_script(session: Session, script: Vec<RawFrame>) -> HashMap<u32, Vec<u8>> {
    let mut writers: HashMap<u32, WriteHalf<packer_rpc::mux::Stream>> = HashMap::new();
    let mut readers = Vec::new();
    let spawn_reader = |id: u32, mut r: ReadHalf<packer_rpc::mux::Stream>| {
        tokio::spawn(async move {
            let mut got = Vec::new();
            // Streams core never half-closed end with the session instead.
            let _ = r.read_to_end(&mut got).await;
            // Keep the read half alive: dropping a whole stream would send a FIN Go never sent.
            (id, got, r)
        })
    };
    for f in script {
        match (f.ty, f.flags) {
            (1, SYN) => {
                let s = session.open().await.unwrap();
                assert_eq!(s.id(), f.stream, "we opened a different stream id than Go");
                let (r, w) = tokio::io::split(s);
                readers.push(spawn_reader(f.stream, r));
                writers.insert(f.stream, w);
            }
            (1, ACK) => {
                let s = session.accept().await.unwrap().unwrap();
                assert_eq!(s.id(), f.stream, "accepted a different stream than Go");
                let (r, w) = tokio::io::split(s);
                readers.push(spawn_reader(f.stream, r));
                writers.insert(f.stream, w);
            }
            (1, FIN) => writers
                .get_mut(&f.stream)
                .unwrap()
                .shutdown()
                .await
                .unwrap(),
            (0, 0) => writers
                .get_mut(&f.stream)
                .unwrap()
                .write_all(&f.payload)
                .await
                .unwrap(),
            other => panic!("frame kind {other:?} not scripted: {f:?}"),
        }
    }
    // Streams core never half-closed stay open; give the others a moment to reach EOF.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut received = HashMap::new();
    let mut halves = Vec::new();
    let mut pending = Vec::new();
    for r in readers {
        if r.is_finished() {
            let (id, got, half) = r.await.unwrap();
            received.insert(id, got);
            halves.push(half);
        } else {
            pending.push(r);
        }
    }
    // Hold every half (and the unfinished readers) until the comparison is done.
    std::mem::forget(writers);
    std::mem::forget(halves);
    std::mem::forget(pending);
    received
}

async fn replay(name: &str) {
    let dir = capture_dir(name);
    let c2p = std::fs::read(dir.join("core2plugin.bin")).unwrap();
    let p2c = std::fs::read(dir.join("plugin2core.bin")).unwrap();
    let events = parse_events(&std::fs::read_to_string(dir.join("events.jsonl")).unwrap());

    let (ours, theirs) = tokio::io::duplex(1 << 20);
    let session = Session::server(ours);
    let script = tokio::spawn(run_script(session.clone(), parse_frames(&p2c)));

    let (mut rd, mut wr) = tokio::io::split(theirs);
    let mut out = Vec::new();
    for ev in &events {
        if ev.core2plugin {
            wr.write_all(&c2p[ev.off..ev.off + ev.len]).await.unwrap();
        } else {
            let want = ev.off + ev.len;
            while out.len() < want {
                let mut buf = vec![0u8; want - out.len()];
                let n = tokio::time::timeout(Duration::from_secs(5), rd.read(&mut buf))
                    .await
                    .unwrap_or_else(|_| {
                        panic!(
                            "{name}: stalled at output byte {} of {want}; so far equal: {}",
                            out.len(),
                            p2c.starts_with(&out)
                        )
                    })
                    .unwrap();
                assert!(n > 0, "{name}: session closed its side");
                out.extend_from_slice(&buf[..n]);
            }
            assert_eq!(
                &out[..want],
                &p2c[..want],
                "{name}: output differs within the first {want} bytes"
            );
        }
    }
    assert_eq!(out, p2c, "{name}: output differs");
    // Some captures end with core bytes the proxy logged no read event for.
    let fed: usize = events.iter().filter(|e| e.core2plugin).map(|e| e.len).sum();
    wr.write_all(&c2p[fed..]).await.unwrap();

    let received = script.await.unwrap();
    // What core sent per stream (payload bytes) must be what our streams delivered.
    let mut sent: HashMap<u32, Vec<u8>> = HashMap::new();
    let mut fin: HashMap<u32, bool> = HashMap::new();
    for f in parse_frames(&c2p) {
        if f.ty == 0 {
            sent.entry(f.stream)
                .or_default()
                .extend_from_slice(&f.payload);
        }
        if f.flags & FIN != 0 {
            fin.insert(f.stream, true);
        }
    }
    for (id, want) in &sent {
        if fin.get(id).copied().unwrap_or(false) {
            let got = received
                .get(id)
                .unwrap_or_else(|| panic!("{name}: stream {id} never reached EOF"));
            assert_eq!(got, want, "{name}: stream {id} delivered other bytes");
        }
    }
    assert!(!session.is_closed());
    let _ = fin.len();
    let _ = ACK;
}

#[tokio::test]
async fn replays_every_capture_byte_for_byte() {
    let mut names: Vec<String> = std::fs::read_dir(capture_dir(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 10, "captures missing: {names:?}");
    for n in names {
        replay(&n).await;
    }
}

/// The first exchange through the broker: stream 1 is accepted and acked exactly like Go does.
#[tokio::test]
async fn broker_accept_zero_matches_go_bytes() {
    let dir = capture_dir("out_hcl_packer-builder-null");
    let c2p = std::fs::read(dir.join("core2plugin.bin")).unwrap();
    let p2c = std::fs::read(dir.join("plugin2core.bin")).unwrap();
    let (ours, theirs) = tokio::io::duplex(1 << 16);
    let broker = Broker::new(Session::server(ours));
    let (mut rd, mut wr) = tokio::io::split(theirs);
    // Frame by frame: SYN first, then the broker id.
    wr.write_all(&c2p[..12]).await.unwrap();
    wr.write_all(&c2p[12..28]).await.unwrap();
    let mut stream = broker.accept(0).await.unwrap();
    assert_eq!(stream.id(), 1);
    let mut first = [0u8; 28];
    tokio::time::timeout(Duration::from_secs(5), rd.read_exact(&mut first))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&first[..], &p2c[..28], "WindowUpdate+ACK then broker ack 0");
    // The first RPC request (40 bytes) comes through the stream untouched.
    wr.write_all(&c2p[28..80]).await.unwrap();
    let mut req = [0u8; 40];
    stream.read_exact(&mut req).await.unwrap();
    assert_eq!(&req[..], &c2p[40..80]);
    assert_eq!(&req[2..15], b"ServiceMethod");
}
