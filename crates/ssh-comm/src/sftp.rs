//! Transfers over the `sftp` subsystem (russh-sftp), the alternative to scp.
use std::path::{Path, PathBuf};

use russh_sftp::client::SftpSession;
use russh_sftp::protocol::{FileAttributes, OpenFlags};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use crate::error::SshError;
use crate::paths::{dir_source, included_child, join_remote};
use crate::session::{Session, CHUNK};

async fn open(session: &Session, op: &str, path: &str) -> Result<SftpSession, SshError> {
    let ch = session.open_channel("open sftp channel").await?;
    ch.request_subsystem(true, "sftp")
        .await
        .map_err(|e| session.channel_err("request sftp subsystem", e))?;
    let mut ch = ch;
    session
        .await_reply(&mut ch, "request sftp subsystem")
        .await?;
    let cfg = russh_sftp::client::Config {
        // Bigger writes and a deeper pipeline than the defaults (32 KiB, 16): fewer round trips,
        // while what is in flight (16 × 64 KiB) stays small.
        max_write_packet_len: 64 * 1024 + 64,
        max_concurrent_writes: 16,
        max_concurrent_reads: 16,
        ..Default::default()
    };
    SftpSession::new_with_config(ch.into_stream(), cfg)
        .await
        .map_err(|e| SshError::sftp(op, path, e))
}

/// Uploads `src` to the remote file `path` and sets `mode` on it.
pub(crate) async fn upload<R: AsyncRead + Unpin>(
    session: &Session,
    path: &str,
    src: &mut R,
    mode: u32,
) -> Result<(), SshError> {
    let sftp = open(session, "upload", path).await?;
    let r = put_file(&sftp, path, src, mode).await;
    let _ = sftp.close().await;
    r
}

async fn put_file<R: AsyncRead + Unpin>(
    sftp: &SftpSession,
    path: &str,
    src: &mut R,
    mode: u32,
) -> Result<(), SshError> {
    let attrs = FileAttributes {
        permissions: Some(mode & 0o7777),
        ..FileAttributes::empty()
    };
    let mut f = sftp
        .open_with_flags_and_attributes(
            path,
            OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::WRITE,
            attrs,
        )
        .await
        .map_err(|e| SshError::sftp("create", path, e))?;
    let mut reader = BufReader::with_capacity(CHUNK, src);
    tokio::io::copy_buf(&mut reader, &mut f)
        .await
        .map_err(|e| SshError::sftp("write", path, e))?;
    f.shutdown()
        .await
        .map_err(|e| SshError::sftp("close", path, e))?;
    // The open attributes only apply to new files (and pass through the umask).
    let attrs = FileAttributes {
        permissions: Some(mode & 0o7777),
        ..FileAttributes::empty()
    };
    sftp.set_metadata(path, attrs)
        .await
        .map_err(|e| SshError::sftp("chmod", path, e))
}

/// Downloads the remote file `path` into `sink`.
pub(crate) async fn download<W: AsyncWrite + Unpin>(
    session: &Session,
    path: &str,
    sink: &mut W,
) -> Result<(), SshError> {
    let sftp = open(session, "download", path).await?;
    let r = async {
        let mut f = sftp
            .open(path)
            .await
            .map_err(|e| SshError::sftp("open", path, e))?;
        tokio::io::copy(&mut f, sink)
            .await
            .map_err(|e| SshError::sftp("read", path, e))?;
        sink.flush()
            .await
            .map_err(|e| SshError::io("flush download of", path, e))
    }
    .await;
    let _ = sftp.close().await;
    r
}

/// Same semantics as the scp directory upload.
pub(crate) async fn upload_dir(
    session: &Session,
    dst: &str,
    src: &Path,
    exclude: &[String],
) -> Result<(), SshError> {
    let contents_only = src.to_string_lossy().ends_with('/');
    let sftp = open(session, "upload directory to", dst).await?;
    let r = async {
        mkdir_p(&sftp, dst).await?;
        let root = if contents_only {
            dst.to_string()
        } else {
            let name = src
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| ".".into());
            let d = join_remote(dst, &name);
            mkdir_p(&sftp, &d).await?;
            d
        };
        // Iterative walk: (local dir, remote dir, relative path)
        let mut todo: Vec<(PathBuf, String, String)> =
            vec![(src.to_path_buf(), root, String::new())];
        while let Some((local, remote, rel)) = todo.pop() {
            let mut rd = tokio::fs::read_dir(&local)
                .await
                .map_err(|e| SshError::io("read directory", local.display(), e))?;
            while let Some(e) = rd
                .next_entry()
                .await
                .map_err(|e| SshError::io("read directory", local.display(), e))?
            {
                let name = e.file_name().to_string_lossy().into_owned();
                let Some(child_rel) = included_child(&rel, &name, exclude) else {
                    continue;
                };
                let path = e.path();
                let meta = tokio::fs::metadata(&path)
                    .await
                    .map_err(|e| SshError::io("stat", path.display(), e))?;
                let rpath = join_remote(&remote, &name);
                if meta.is_dir() {
                    mkdir_p(&sftp, &rpath).await?;
                    todo.push((path, rpath, child_rel));
                } else if meta.is_file() {
                    let mut f = tokio::fs::File::open(&path)
                        .await
                        .map_err(|e| SshError::io("open", path.display(), e))?;
                    put_file(&sftp, &rpath, &mut f, local_mode(&meta)).await?;
                }
            }
        }
        Ok(())
    }
    .await;
    let _ = sftp.close().await;
    r
}

#[cfg(unix)]
fn local_mode(m: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn local_mode(_: &std::fs::Metadata) -> u32 {
    0o644
}

async fn mkdir_p(sftp: &SftpSession, dir: &str) -> Result<(), SshError> {
    let mut prefix = String::new();
    for part in dir.split('/') {
        if part.is_empty() {
            if prefix.is_empty() {
                prefix.push('/');
            }
            continue;
        }
        prefix = join_remote(&prefix, part);
        match sftp.metadata(prefix.as_str()).await {
            Ok(m) if m.is_dir() => continue,
            Ok(_) => {
                return Err(SshError::sftp(
                    "mkdir",
                    &prefix,
                    "exists and is not a directory",
                ))
            }
            Err(_) => sftp
                .create_dir(prefix.as_str())
                .await
                .map_err(|e| SshError::sftp("mkdir", &prefix, e))?,
        }
    }
    Ok(())
}

/// Same semantics as the scp directory download.
pub(crate) async fn download_dir(
    session: &Session,
    src: &str,
    dst: &Path,
    exclude: &[String],
) -> Result<(), SshError> {
    let (trimmed, contents_only) = dir_source(src);
    let sftp = open(session, "download directory", src).await?;
    let r = async {
        let meta = sftp
            .metadata(trimmed)
            .await
            .map_err(|e| SshError::sftp("stat", trimmed, e))?;
        if !meta.is_dir() {
            return Err(SshError::sftp(
                "download directory",
                trimmed,
                "not a directory",
            ));
        }
        let root = if contents_only {
            dst.to_path_buf()
        } else {
            let name = trimmed.rsplit('/').next().unwrap_or(trimmed);
            dst.join(name)
        };
        tokio::fs::create_dir_all(&root)
            .await
            .map_err(|e| SshError::io("create directory", root.display(), e))?;
        let mut todo: Vec<(String, PathBuf, String)> =
            vec![(trimmed.to_string(), root, String::new())];
        while let Some((remote, local, rel)) = todo.pop() {
            let rd = sftp
                .read_dir(remote.as_str())
                .await
                .map_err(|e| SshError::sftp("read directory", &remote, e))?;
            for e in rd {
                let name = e.file_name();
                if name == "." || name == ".." || name.contains('/') {
                    continue;
                }
                let Some(child_rel) = included_child(&rel, &name, exclude) else {
                    continue;
                };
                let rpath = join_remote(&remote, &name);
                let lpath = local.join(&name);
                // Follow symlinks like scp does.
                let m = sftp
                    .metadata(rpath.as_str())
                    .await
                    .map_err(|e| SshError::sftp("stat", &rpath, e))?;
                if m.is_dir() {
                    tokio::fs::create_dir_all(&lpath)
                        .await
                        .map_err(|e| SshError::io("create directory", lpath.display(), e))?;
                    todo.push((rpath, lpath, child_rel));
                } else if m.is_regular() {
                    let mut out = tokio::fs::File::create(&lpath)
                        .await
                        .map_err(|e| SshError::io("create", lpath.display(), e))?;
                    let mut f = sftp
                        .open(rpath.as_str())
                        .await
                        .map_err(|e| SshError::sftp("open", &rpath, e))?;
                    tokio::io::copy(&mut f, &mut out)
                        .await
                        .map_err(|e| SshError::sftp("read", &rpath, e))?;
                    out.flush()
                        .await
                        .map_err(|e| SshError::io("write", lpath.display(), e))?;
                    #[cfg(unix)]
                    if let Some(p) = m.permissions {
                        use std::os::unix::fs::PermissionsExt;
                        let _ = tokio::fs::set_permissions(
                            &lpath,
                            std::fs::Permissions::from_mode(p & 0o7777),
                        )
                        .await;
                    }
                }
            }
        }
        Ok(())
    }
    .await;
    let _ = sftp.close().await;
    r
}
