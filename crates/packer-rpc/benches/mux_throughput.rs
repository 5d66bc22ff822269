//! Throughput of one yamux stream over a unix socket pair: 256 MiB client → server.
//! `cargo bench -p packer-rpc --bench mux_throughput` (not run in CI). Prints MiB/s.
use std::time::Instant;

use packer_rpc::mux::{Config, Mode, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOTAL: usize = 256 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

async fn run(label: &str, cfg: Config, zero_copy: bool) {
    // MUX_BENCH_ONLY=<substring of a label> runs one case (for profiling).
    if let Ok(only) = std::env::var("MUX_BENCH_ONLY") {
        if !label.contains(&only) {
            return;
        }
    }
    let (a, b) = tokio::net::UnixStream::pair().expect("socketpair");
    let client = Session::new(a, Mode::Client, cfg.clone());
    let server = Session::new(b, Mode::Server, cfg);
    let start = Instant::now();
    let reader = tokio::spawn(async move {
        let mut s = server.accept().await.expect("accept").expect("stream");
        let mut n = 0usize;
        if zero_copy {
            while let Some(c) = s.read_chunk(1 << 20).await.expect("read") {
                n += c.len();
            }
        } else {
            let mut buf = vec![0u8; CHUNK];
            loop {
                let k = s.read(&mut buf).await.expect("read");
                if k == 0 {
                    break;
                }
                n += k;
            }
        }
        n
    });
    let mut s = client.open().await.expect("open");
    let buf = vec![0x5au8; CHUNK];
    let chunk = bytes::Bytes::from(buf.clone());
    let mut sent = 0;
    while sent < TOTAL {
        if zero_copy {
            s.write_bytes(chunk.clone()).await.expect("write");
        } else {
            s.write_all(&buf).await.expect("write");
        }
        sent += CHUNK;
    }
    s.shutdown().await.expect("shutdown");
    let got = reader.await.expect("join");
    assert_eq!(got, TOTAL);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{label}: {} MiB in {secs:.3} s = {:.0} MiB/s",
        TOTAL >> 20,
        (TOTAL >> 20) as f64 / secs
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // (window, max frame, zero-copy)
    let cases: [(u32, u32, bool); 6] = [
        (256 << 10, 128 << 10, false),
        (1 << 20, 128 << 10, false),
        (4 << 20, 128 << 10, false),
        (256 << 10, 128 << 10, true),
        (4 << 20, 128 << 10, true),
        (16 << 20, 256 << 10, true),
    ];
    rt.block_on(async {
        for (window, frame, zero_copy) in cases {
            let cfg = Config {
                max_stream_window: window,
                max_frame_size: frame,
                ..Config::default()
            };
            let label = format!(
                "window {} KiB, frames {} KiB, {}",
                window >> 10,
                frame >> 10,
                if zero_copy {
                    "Bytes zero-copy"
                } else {
                    "AsyncRead/Write"
                }
            );
            run(&label, cfg, zero_copy).await;
        }
    });
}
