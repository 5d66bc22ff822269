//! Arbitrary bytes into the frame parser and into a live server session: errors, never panics,
//! never hangs, never allocates without bound.
use std::time::Duration;

use packer_rpc::mux::{Header, Session, HEADER_LEN};
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn frame(ty: u8, flags: u16, id: u32, len: u32) -> Vec<u8> {
    let mut v = vec![0, ty];
    v.extend_from_slice(&flags.to_be_bytes());
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&len.to_be_bytes());
    v
}

/// Mostly well-formed frames with hostile fields, so the session gets past the header check.
fn plausible_frame() -> impl Strategy<Value = Vec<u8>> {
    (
        0u8..5,
        prop_oneof![Just(0u16), Just(1), Just(2), Just(4), Just(8), any::<u16>()],
        prop_oneof![0u32..8, any::<u32>()],
        prop_oneof![0u32..64, Just(262_144), Just(262_145), any::<u32>()],
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(ty, flags, id, len, tail)| {
            let mut v = frame(ty, flags, id, len);
            if ty == 0 {
                v.extend_from_slice(&tail[..tail.len().min(len as usize)]);
            }
            v
        })
}

fn input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        proptest::collection::vec(plausible_frame(), 0..24).prop_map(|fs| fs.concat()),
        // A valid open first, then anything.
        proptest::collection::vec(any::<u8>(), 0..256).prop_map(|rest| {
            let mut v = frame(1, 1, 1, 0);
            v.extend_from_slice(&rest);
            v
        }),
    ]
}

fn run_session(bytes: Vec<u8>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let (ours, peer) = tokio::io::duplex(1 << 20);
        let s = Session::server(ours);
        let acceptor = {
            let s = s.clone();
            tokio::spawn(async move {
                // Read whatever streams appear, so data and window paths run too.
                while let Ok(Some(mut st)) = s.accept().await {
                    tokio::spawn(async move {
                        let mut sink = Vec::new();
                        let _ = st.read_to_end(&mut sink).await;
                        let _ = st.write_all(b"reply").await;
                    });
                }
            })
        };
        let (mut rd, mut wr) = tokio::io::split(peer);
        let drain = tokio::spawn(async move {
            let mut out = Vec::new();
            let _ = rd.read_to_end(&mut out).await;
        });
        let _ = wr.write_all(&bytes).await;
        let _ = wr.shutdown().await;
        // EOF (or an error) always ends the session.
        tokio::time::timeout(Duration::from_secs(10), s.closed())
            .await
            .expect("session did not end after EOF")
            .ok();
        tokio::time::timeout(Duration::from_secs(10), acceptor)
            .await
            .expect("accept did not end")
            .expect("acceptor panicked");
        s.close().await;
        drain.abort();
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn header_decode_never_panics(b in proptest::array::uniform12(any::<u8>())) {
        match Header::decode(&b) {
            Ok(h) => prop_assert_eq!(h.encode(), b),
            Err(_) => prop_assert!(b[0] != 0 || b[1] > 3),
        }
        prop_assert_eq!(b.len(), HEADER_LEN);
    }

    #[test]
    fn session_survives_arbitrary_input(bytes in input()) {
        run_session(bytes);
    }
}
