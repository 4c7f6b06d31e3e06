//! A TCP proxy on loopback that a fault test can break: it forwards every connection to a
//! target port until [`Proxy::cut`], which closes the connections it carries and refuses new
//! ones (as a network partition does to a process on one side), and [`Proxy::restore`] lets
//! connections through again. Plain threads, so it runs whatever the test's runtime.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

struct Shared {
    target: u16,
    cut: AtomicBool,
    stopped: AtomicBool,
    /// Both ends of every connection carried, to close them at a cut.
    open: Mutex<Vec<TcpStream>>,
}

/// A running proxy; it stops when dropped.
pub struct Proxy {
    pub port: u16,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Forwards `127.0.0.1:<port>` to `127.0.0.1:<target>`.
    pub fn start(target: u16) -> io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            target,
            cut: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            open: Mutex::new(Vec::new()),
        });
        let s = shared.clone();
        thread::spawn(move || {
            for client in listener.incoming() {
                if s.stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                if s.cut.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                if let Err(e) = carry(&s, client) {
                    eprintln!("proxy: {e}");
                }
            }
        });
        Ok(Proxy { port, shared })
    }

    /// Closes every connection carried and refuses new ones.
    pub fn cut(&self) {
        self.shared.cut.store(true, Ordering::SeqCst);
        let mut open = self.shared.open.lock().unwrap_or_else(|p| p.into_inner());
        for s in open.drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.shared.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        self.cut();
        // Wakes the accept loop so that it sees it is stopped.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Connects `client` to the target and copies both ways on two threads.
fn carry(s: &Arc<Shared>, client: TcpStream) -> io::Result<()> {
    let server = TcpStream::connect(("127.0.0.1", s.target))?;
    {
        let mut open = s.open.lock().unwrap_or_else(|p| p.into_inner());
        open.push(client.try_clone()?);
        open.push(server.try_clone()?);
    }
    let (c2, s2) = (client.try_clone()?, server.try_clone()?);
    thread::spawn(move || pipe(client, server));
    thread::spawn(move || pipe(s2, c2));
    Ok(())
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards_until_cut_and_again_once_restored() {
        let echo = TcpListener::bind("127.0.0.1:0").expect("bind");
        let target = echo.local_addr().expect("addr").port();
        thread::spawn(move || {
            for s in echo.incoming().flatten() {
                thread::spawn(move || {
                    let mut s = s;
                    let mut buf = [0u8; 64];
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 || s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let proxy = Proxy::start(target).expect("proxy");
        let round_trip = |c: &mut TcpStream| -> bool {
            let mut buf = [0u8; 4];
            c.write_all(b"ping").is_ok() && c.read_exact(&mut buf).is_ok() && &buf == b"ping"
        };
        let mut c = TcpStream::connect(("127.0.0.1", proxy.port)).expect("connect");
        assert!(round_trip(&mut c));
        proxy.cut();
        assert!(!round_trip(&mut c), "a cut closes the connections carried");
        let mut refused = TcpStream::connect(("127.0.0.1", proxy.port)).expect("accepted");
        assert!(!round_trip(&mut refused), "and refuses new ones");
        proxy.restore();
        let mut again = TcpStream::connect(("127.0.0.1", proxy.port)).expect("connect");
        assert!(round_trip(&mut again));
    }
}
