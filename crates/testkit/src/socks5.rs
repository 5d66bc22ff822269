//! A tiny SOCKS5 proxy on loopback for tests: `CONNECT` only, no authentication or
//! username/password, recording every connection it relays. Blocking threads, so it works
//! whatever runtime (or none) the test uses. Not for production use.
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A `CONNECT` to this `host:port` was relayed.
    Relayed(String),
    /// A `CONNECT` to this `host:port` failed to connect onwards.
    Unreachable(String),
    /// A client offered wrong or no credentials.
    AuthRefused,
}

/// A running proxy; it stops accepting when dropped.
pub struct Socks5Server {
    pub port: u16,
    events: Arc<Mutex<Vec<Event>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Socks5Server {
    /// Starts on a free loopback port; `credentials` makes username/password mandatory.
    pub fn start(credentials: Option<(&str, &str)>) -> Socks5Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind socks5 test proxy");
        let port = listener.local_addr().expect("local addr").port();
        let events = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let creds = credentials.map(|(u, p)| (u.to_string(), p.to_string()));
        let (ev, st) = (events.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (ev, creds) = (ev.clone(), creds.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, creds.as_ref(), &ev);
                });
            }
        });
        Socks5Server { port, events, stop }
    }

    pub fn events(&self) -> Vec<Event> {
        self.events.lock().expect("events").clone()
    }

    /// The targets of the `CONNECT`s relayed so far.
    pub fn relayed(&self) -> Vec<String> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Relayed(t) => Some(t),
                _ => None,
            })
            .collect()
    }
}

impl Drop for Socks5Server {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn read_n(s: &mut TcpStream, n: usize) -> std::io::Result<Vec<u8>> {
    let mut b = vec![0u8; n];
    s.read_exact(&mut b)?;
    Ok(b)
}

fn serve(
    mut c: TcpStream,
    creds: Option<&(String, String)>,
    events: &Mutex<Vec<Event>>,
) -> std::io::Result<()> {
    c.set_read_timeout(Some(Duration::from_secs(30)))?;
    let head = read_n(&mut c, 2)?;
    let methods = read_n(&mut c, usize::from(head[1]))?;
    let want = if creds.is_some() { 2 } else { 0 };
    if head[0] != 5 || !methods.contains(&want) {
        events.lock().expect("events").push(Event::AuthRefused);
        return c.write_all(&[5, 0xff]);
    }
    c.write_all(&[5, want])?;
    if let Some((user, pass)) = creds {
        let v = read_n(&mut c, 2)?;
        let u = read_n(&mut c, usize::from(v[1]))?;
        let plen = read_n(&mut c, 1)?;
        let p = read_n(&mut c, usize::from(plen[0]))?;
        if u != user.as_bytes() || p != pass.as_bytes() {
            events.lock().expect("events").push(Event::AuthRefused);
            return c.write_all(&[1, 1]);
        }
        c.write_all(&[1, 0])?;
    }
    let req = read_n(&mut c, 4)?;
    let host = match req[3] {
        1 => Ipv4Addr::from(<[u8; 4]>::try_from(read_n(&mut c, 4)?).expect("4")).to_string(),
        4 => format!(
            "[{}]",
            Ipv6Addr::from(<[u8; 16]>::try_from(read_n(&mut c, 16)?).expect("16"))
        ),
        _ => {
            let len = read_n(&mut c, 1)?;
            String::from_utf8_lossy(&read_n(&mut c, usize::from(len[0]))?).into_owned()
        }
    };
    let port = read_n(&mut c, 2)?;
    let target = format!("{host}:{}", u16::from_be_bytes([port[0], port[1]]));
    let upstream = match TcpStream::connect(target.as_str()) {
        Ok(u) => u,
        Err(_) => {
            events
                .lock()
                .expect("events")
                .push(Event::Unreachable(target));
            return c.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]);
        }
    };
    events.lock().expect("events").push(Event::Relayed(target));
    c.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0])?;
    c.set_read_timeout(None)?;
    relay(c, upstream)
}

fn relay(client: TcpStream, upstream: TcpStream) -> std::io::Result<()> {
    let (mut c_in, mut c_out) = (client.try_clone()?, client);
    let (mut u_in, mut u_out) = (upstream.try_clone()?, upstream);
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c_in, &mut u_out);
        let _ = u_out.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut u_in, &mut c_out);
    let _ = c_out.shutdown(Shutdown::Write);
    let _ = up.join();
    Ok(())
}
