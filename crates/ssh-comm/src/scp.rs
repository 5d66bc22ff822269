//! The scp protocol, spoken to a remote `scp -t` (sink) or `scp -f` (source).
//!
//! Every control line is answered with one status byte: 0 = ok, 1 = warning, 2 = fatal, the
//! latter two followed by a message line.
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use futures::FutureExt;
use russh::client::Msg;
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::SshError;
use crate::paths::{dir_source, included_child, is_excluded, shell_quote, split_remote};
use crate::session::{Session, CHUNK};

/// Keep at most this much of the remote scp's stderr for error messages.
const STDERR_CAP: usize = 4096;
/// Longest control line accepted from a remote source.
const LINE_CAP: usize = 64 * 1024;

/// One scp conversation over an exec channel.
struct Link<'a> {
    session: &'a Session,
    op: &'static str,
    path: String,
    rx: ChannelReadHalf,
    tx: ChannelWriteHalf<Msg>,
    /// Received but not yet consumed stdout bytes.
    cur: Bytes,
    stderr: Vec<u8>,
    exit: Option<u32>,
    closed: bool,
}

impl<'a> Link<'a> {
    async fn open(
        session: &'a Session,
        op: &'static str,
        path: &str,
        command: &str,
    ) -> Result<Link<'a>, SshError> {
        // scp's protocol is binary: a pty would translate bytes.
        let ch = session.exec_channel(command, false).await?;
        let (rx, tx) = ch.split();
        Ok(Link {
            session,
            op,
            path: path.to_string(),
            rx,
            tx,
            cur: Bytes::new(),
            stderr: Vec::new(),
            exit: None,
            closed: false,
        })
    }

    fn err(&self, msg: impl Into<String>) -> SshError {
        let mut msg = msg.into();
        let stderr = String::from_utf8_lossy(&self.stderr);
        let stderr = stderr.trim();
        if !stderr.is_empty() {
            msg.push_str(&format!(" (remote stderr: {stderr})"));
        }
        SshError::scp(self.op, &self.path, msg)
    }

    /// Waits for more stdout; false when the channel has ended.
    async fn fill(&mut self) -> Result<bool, SshError> {
        while !self.closed {
            let msg = self.session.within(self.op, self.rx.wait()).await?;
            match msg {
                Some(ChannelMsg::Data { data }) => {
                    if !data.is_empty() {
                        self.cur = data;
                        return Ok(true);
                    }
                }
                Some(ChannelMsg::ExtendedData { data, .. }) => {
                    let room = STDERR_CAP.saturating_sub(self.stderr.len());
                    self.stderr.extend_from_slice(&data[..data.len().min(room)]);
                }
                Some(ChannelMsg::ExitStatus { exit_status }) => self.exit = Some(exit_status),
                Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                    self.stderr
                        .extend_from_slice(format!("killed by signal {signal_name:?}").as_bytes());
                    self.exit = Some(255);
                }
                Some(ChannelMsg::Close) | None => self.closed = true,
                Some(_) => {}
            }
        }
        Ok(false)
    }

    /// Up to `max` bytes of stdout, without copying; empty at end of stream.
    async fn chunk(&mut self, max: usize) -> Result<Bytes, SshError> {
        if self.cur.is_empty() && !self.fill().await? {
            return Ok(Bytes::new());
        }
        let n = max.min(self.cur.len());
        Ok(self.cur.split_to(n))
    }

    async fn byte(&mut self) -> Result<Option<u8>, SshError> {
        let b = self.chunk(1).await?;
        Ok(b.first().copied())
    }

    /// A `\n`-terminated line without the `\n`; `None` at a clean end of stream.
    async fn line(&mut self) -> Result<Option<String>, SshError> {
        let mut out = Vec::new();
        loop {
            if self.cur.is_empty() && !self.fill().await? {
                if out.is_empty() {
                    return Ok(None);
                }
                return Err(self.err("connection ended inside a protocol line"));
            }
            match self.cur.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    out.extend_from_slice(&self.cur[..i]);
                    let _ = self.cur.split_to(i + 1);
                    return Ok(Some(String::from_utf8_lossy(&out).into_owned()));
                }
                None => {
                    out.extend_from_slice(&self.cur);
                    self.cur = Bytes::new();
                    if out.len() > LINE_CAP {
                        return Err(self.err("protocol line too long"));
                    }
                }
            }
        }
    }

    /// Reads one status byte; a warning or error becomes an error carrying the remote message.
    async fn ack(&mut self, what: &str) -> Result<(), SshError> {
        match self.byte().await? {
            Some(0) => Ok(()),
            Some(1) | Some(2) => {
                let msg = self.line().await?.unwrap_or_default();
                Err(self.err(format!("{what}: {msg}")))
            }
            Some(b) => {
                // Not a status byte: most likely a shell complaining ("scp: command not found").
                let rest = self.line().await?.unwrap_or_default();
                Err(self.err(format!(
                    "{what}: unexpected reply {:?}",
                    format!("{}{rest}", b as char)
                )))
            }
            None => Err(self.err(format!("{what}: remote scp exited{}", self.exit_text()))),
        }
    }

    fn exit_text(&self) -> String {
        match self.exit {
            Some(c) => format!(" with status {c}"),
            None => String::new(),
        }
    }

    async fn send(&mut self, data: impl Into<Bytes>) -> Result<(), SshError> {
        let r = self
            .session
            .within(self.op, self.tx.data_bytes(data.into()))
            .await?;
        r.map_err(|e| self.session.channel_err(self.op, e))
    }

    /// Sends exactly `size` bytes from `src`, then the trailing status byte.
    async fn send_body<R: AsyncRead + Unpin>(
        &mut self,
        src: &mut R,
        size: u64,
        what: &str,
    ) -> Result<(), SshError> {
        let mut left = size;
        let mut buf = BytesMut::with_capacity(CHUNK.min(size as usize).max(1));
        while left > 0 {
            // Reuses the allocation once russh has sent the previous chunk.
            buf.reserve(CHUNK);
            let want = (left as usize).min(CHUNK);
            let n = {
                let mut limited = (&mut *src).take(want as u64);
                limited
                    .read_buf(&mut buf)
                    .await
                    .map_err(|e| SshError::io("read source of", what, e))?
            };
            if n == 0 {
                return Err(self.err(format!(
                    "{what}: source ended after {} of {size} bytes",
                    size - left
                )));
            }
            left -= n as u64;
            // Take what else is already there (Packer sends 32 KiB frames) without waiting, so
            // a busy upload goes to russh in few large chunks rather than many small ones.
            while left > 0 && buf.len() < CHUNK {
                let want = (left as usize).min(CHUNK - buf.len());
                let mut limited = (&mut *src).take(want as u64);
                match limited.read_buf(&mut buf).now_or_never() {
                    Some(Ok(0)) | None => break,
                    Some(Ok(m)) => left -= m as u64,
                    Some(Err(e)) => return Err(SshError::io("read source of", what, e)),
                }
            }
            let chunk = buf.split().freeze();
            self.send(chunk).await?;
        }
        self.send(Bytes::from_static(b"\0")).await?;
        self.ack(what).await
    }

    /// Sends EOF and waits for the remote scp to exit, failing on a non-zero status.
    async fn finish(mut self) -> Result<(), SshError> {
        let _ = self.tx.eof().await;
        while !self.closed {
            self.cur = Bytes::new();
            self.fill().await?;
        }
        match self.exit {
            Some(0) | None => Ok(()),
            Some(c) => Err(self.err(format!("remote scp exited with status {c}"))),
        }
    }
}

/// Uploads `size` bytes from `src` to the remote file `path` with `mode`.
pub(crate) async fn upload<R: AsyncRead + Unpin>(
    session: &Session,
    path: &str,
    src: &mut R,
    size: u64,
    mode: u32,
) -> Result<(), SshError> {
    let (dir, name) = split_remote(path);
    if name.is_empty() || name.contains('\n') {
        return Err(SshError::scp("upload to", path, "not a file path"));
    }
    let cmd = format!("scp -t {}", shell_quote(&dir));
    let mut link = Link::open(session, "upload to", path, &cmd).await?;
    link.ack("start").await?;
    link.send(format!("C{:04o} {size} {name}\n", mode & 0o7777))
        .await?;
    link.ack("file header").await?;
    link.send_body(src, size, path).await?;
    link.finish().await
}

/// Uploads the local directory `src` to the remote path `dst` the way Packer's Go communicator
/// does over scp. With a trailing `/` on `src` its contents land in `dst`, which is created
/// first when missing (Go would write every file over the one path `dst`). Without it the remote
/// `scp -r -t` decides, as for Go: an existing directory `dst` receives `dst/<basename of src>`,
/// a missing `dst` becomes the copy of `src` itself (its parent is created when missing).
pub(crate) async fn upload_dir(
    session: &Session,
    dst: &str,
    src: &Path,
    exclude: &[String],
) -> Result<(), SshError> {
    let src_str = src.to_string_lossy();
    let contents_only = src_str.ends_with('/');
    let meta = tokio::fs::metadata(src)
        .await
        .map_err(|e| SshError::io("upload directory", src.display(), e))?;
    if !meta.is_dir() {
        return Err(SshError::io(
            "upload directory",
            src.display(),
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a directory"),
        ));
    }
    let q = shell_quote(dst);
    let cmd = if contents_only {
        format!("mkdir -p {q} && scp -r -t {q}")
    } else {
        let (parent, _) = split_remote(dst);
        format!("mkdir -p {} && scp -r -t {q}", shell_quote(&parent))
    };
    let mut link = Link::open(session, "upload directory to", dst, &cmd).await?;
    link.ack("start").await?;
    if contents_only {
        send_dir_entries(&mut link, src, "", exclude).await?;
    } else {
        let name = src
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| ".".into());
        send_dir(&mut link, src, &name, &name, exclude, mode_of(&meta)).await?;
    }
    link.finish().await
}

#[cfg(unix)]
fn mode_of(m: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode_of(m: &std::fs::Metadata) -> u32 {
    if m.is_dir() {
        0o755
    } else {
        0o644
    }
}

fn send_dir<'l, 'a>(
    link: &'l mut Link<'a>,
    local: &'l Path,
    name: &'l str,
    rel: &'l str,
    exclude: &'l [String],
    mode: u32,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), SshError>> + Send + 'l>>
where
    'a: 'l,
{
    Box::pin(async move {
        link.send(format!("D{mode:04o} 0 {name}\n")).await?;
        link.ack(&format!("directory {rel}")).await?;
        send_dir_entries(link, local, rel, exclude).await?;
        link.send(Bytes::from_static(b"E\n")).await?;
        link.ack(&format!("end of directory {rel}")).await
    })
}

async fn send_dir_entries(
    link: &mut Link<'_>,
    local: &Path,
    rel: &str,
    exclude: &[String],
) -> Result<(), SshError> {
    let mut entries = Vec::new();
    let mut rd = tokio::fs::read_dir(local)
        .await
        .map_err(|e| SshError::io("read directory", local.display(), e))?;
    while let Some(e) = rd
        .next_entry()
        .await
        .map_err(|e| SshError::io("read directory", local.display(), e))?
    {
        entries.push(e.path());
    }
    entries.sort();
    for path in entries {
        let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        if name.contains('\n') {
            return Err(SshError::io(
                "upload",
                path.display(),
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "newline in file name"),
            ));
        }
        let Some(child_rel) = included_child(rel, &name, exclude) else {
            continue;
        };
        // Symlinks are followed, as a plain copy would.
        let meta = tokio::fs::metadata(&path)
            .await
            .map_err(|e| SshError::io("stat", path.display(), e))?;
        if meta.is_dir() {
            send_dir(link, &path, &name, &child_rel, exclude, mode_of(&meta)).await?;
        } else if meta.is_file() {
            let mut f = tokio::fs::File::open(&path)
                .await
                .map_err(|e| SshError::io("open", path.display(), e))?;
            let size = meta.len();
            link.send(format!("C{:04o} {size} {name}\n", mode_of(&meta)))
                .await?;
            link.ack(&format!("file header {child_rel}")).await?;
            link.send_body(&mut f, size, &child_rel).await?;
        }
    }
    Ok(())
}

/// A parsed `C`/`D` header: mode, size, name.
fn parse_header(line: &str) -> Option<(u32, u64, String)> {
    let mut parts = line.get(1..)?.splitn(3, ' ');
    let mode = u32::from_str_radix(parts.next()?, 8).ok()?;
    let size = parts.next()?.parse().ok()?;
    let name = parts.next()?.to_string();
    if name.is_empty() || name.contains('/') || name == ".." || name == "." {
        return None;
    }
    Some((mode, size, name))
}

/// Downloads the remote file `path` into `sink`.
pub(crate) async fn download<W: AsyncWrite + Unpin>(
    session: &Session,
    path: &str,
    sink: &mut W,
) -> Result<(), SshError> {
    let cmd = format!("scp -f {}", shell_quote(path));
    let mut link = Link::open(session, "download", path, &cmd).await?;
    link.send(Bytes::from_static(b"\0")).await?;
    loop {
        let Some(b) = link.byte().await? else {
            return Err(link.err(format!("remote scp sent nothing{}", link.exit_text())));
        };
        let rest = link.line().await?.unwrap_or_default();
        match b {
            b'T' => link.send(Bytes::from_static(b"\0")).await?,
            b'C' => {
                let Some((_, size, _)) = parse_header(&format!("C{rest}")) else {
                    return Err(link.err(format!("bad file header {rest:?}")));
                };
                link.send(Bytes::from_static(b"\0")).await?;
                receive_body(&mut link, sink, size, path).await?;
                break;
            }
            1 | 2 => return Err(link.err(rest)),
            _ => {
                return Err(link.err(format!(
                    "unexpected reply {:?}",
                    format!("{}{rest}", b as char)
                )))
            }
        }
    }
    sink.flush()
        .await
        .map_err(|e| SshError::io("flush download of", path, e))?;
    link.finish().await
}

async fn receive_body<W: AsyncWrite + Unpin>(
    link: &mut Link<'_>,
    sink: &mut W,
    size: u64,
    what: &str,
) -> Result<(), SshError> {
    let mut left = size;
    while left > 0 {
        let chunk = link.chunk(left.min(usize::MAX as u64) as usize).await?;
        if chunk.is_empty() {
            return Err(link.err(format!(
                "{what}: connection ended after {} of {size} bytes",
                size - left
            )));
        }
        left -= chunk.len() as u64;
        sink.write_all(&chunk)
            .await
            .map_err(|e| SshError::io("write download of", what, e))?;
    }
    link.ack(what).await?;
    link.send(Bytes::from_static(b"\0")).await
}

/// Downloads the remote directory `src` into the local directory `dst`, rsync style (trailing
/// `/` on `src`: its contents into `dst`; otherwise into `dst/<basename>`). Excluded entries are
/// still received (scp cannot skip) but discarded.
pub(crate) async fn download_dir(
    session: &Session,
    src: &str,
    dst: &Path,
    exclude: &[String],
) -> Result<(), SshError> {
    let (path, contents_only) = dir_source(src);
    let cmd = format!("scp -r -f {}", shell_quote(path));
    tokio::fs::create_dir_all(dst)
        .await
        .map_err(|e| SshError::io("create directory", dst.display(), e))?;
    let mut link = Link::open(session, "download directory", src, &cmd).await?;
    link.send(Bytes::from_static(b"\0")).await?;
    // (local directory or None when excluded, relative path)
    let mut stack: Vec<(Option<PathBuf>, String)> = Vec::new();
    let mut saw_anything = false;
    loop {
        let Some(b) = link.byte().await? else { break };
        let rest = link.line().await?.unwrap_or_default();
        match b {
            b'T' => {}
            b'E' => {
                if stack.pop().is_none() {
                    return Err(link.err("unbalanced end of directory"));
                }
            }
            b'D' | b'C' => {
                saw_anything = true;
                let Some((mode, size, name)) = parse_header(&format!("{}{rest}", b as char)) else {
                    return Err(link.err(format!("bad header {rest:?}")));
                };
                let top = stack.is_empty();
                let (parent, parent_rel) = match stack.last() {
                    Some((p, r)) => (p.clone(), r.clone()),
                    None => (Some(dst.to_path_buf()), String::new()),
                };
                let rel = if top && b == b'D' && contents_only {
                    String::new()
                } else if parent_rel.is_empty() {
                    name.clone()
                } else {
                    format!("{parent_rel}/{name}")
                };
                let excluded = !rel.is_empty() && is_excluded(&rel, exclude);
                let local = match parent {
                    Some(p) if !excluded => Some(if rel.is_empty() { p } else { p.join(&name) }),
                    _ => None,
                };
                if b == b'D' {
                    if let Some(l) = &local {
                        tokio::fs::create_dir_all(l)
                            .await
                            .map_err(|e| SshError::io("create directory", l.display(), e))?;
                        set_mode(l, mode | 0o700).await;
                    }
                    stack.push((local, rel));
                    link.send(Bytes::from_static(b"\0")).await?;
                    continue;
                }
                link.send(Bytes::from_static(b"\0")).await?;
                match local {
                    Some(l) => {
                        let mut f = tokio::fs::File::create(&l)
                            .await
                            .map_err(|e| SshError::io("create", l.display(), e))?;
                        receive_body(&mut link, &mut f, size, &rel).await?;
                        f.flush()
                            .await
                            .map_err(|e| SshError::io("write", l.display(), e))?;
                        set_mode(&l, mode).await;
                    }
                    None => receive_body(&mut link, &mut tokio::io::sink(), size, &rel).await?,
                }
                continue;
            }
            1 => {
                // A warning (unreadable file): report it, as scp does, but keep going.
                tracing::warn!("scp download {src}: {rest}");
            }
            2 => return Err(link.err(rest)),
            _ => {
                return Err(link.err(format!(
                    "unexpected reply {:?}",
                    format!("{}{rest}", b as char)
                )))
            }
        }
        link.send(Bytes::from_static(b"\0")).await?;
    }
    if !saw_anything {
        return Err(link.err(format!("nothing received{}", link.exit_text())));
    }
    link.finish().await
}

async fn set_mode(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ =
            tokio::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o7777)).await;
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        assert_eq!(
            parse_header("C0644 12 a b"),
            Some((0o644, 12, "a b".into()))
        );
        assert_eq!(parse_header("D0755 0 dir"), Some((0o755, 0, "dir".into())));
        assert_eq!(parse_header("C0644 x a"), None);
        assert_eq!(parse_header("C0644 1 ../evil"), None);
        assert_eq!(parse_header("D0755 0 .."), None);
        assert_eq!(parse_header("C"), None);
    }
}
