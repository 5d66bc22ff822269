//! File transfer entry points; the method (scp or sftp) comes from the options.
use std::path::Path;

use tokio::io::{AsyncRead, AsyncSeekExt, AsyncWrite};

use crate::error::SshError;
use crate::options::TransferMethod;
use crate::session::{Session, CHUNK};
use crate::{scp, sftp};

impl Session {
    /// Uploads a byte stream to the remote file `path` (its directory must exist), with the
    /// permission bits `mode`, using the session's transfer method.
    ///
    /// scp announces the size before the data. When `size` is `None` and the method is scp, the
    /// stream is first spooled to an anonymous temporary file (bounded memory, exact size, and
    /// the remote side still only needs `scp`); pass the size whenever it is known to skip that.
    pub async fn upload<R: AsyncRead + Unpin + Send>(
        &self,
        path: &str,
        src: R,
        size: Option<u64>,
        mode: u32,
    ) -> Result<(), SshError> {
        self.upload_with(self.transfer_method(), path, src, size, mode)
            .await
    }

    /// [`upload`](Self::upload) with an explicit method.
    pub async fn upload_with<R: AsyncRead + Unpin + Send>(
        &self,
        method: TransferMethod,
        path: &str,
        mut src: R,
        size: Option<u64>,
        mode: u32,
    ) -> Result<(), SshError> {
        match (method, size) {
            (TransferMethod::Sftp, _) => sftp::upload(self, path, &mut src, mode).await,
            (TransferMethod::Scp, Some(size)) => {
                scp::upload(self, path, &mut src, size, mode).await
            }
            (TransferMethod::Scp, None) => {
                let std_file = tempfile::tempfile()
                    .map_err(|e| SshError::io("create spool file for", path, e))?;
                let mut spool = tokio::fs::File::from_std(std_file);
                let mut reader = tokio::io::BufReader::with_capacity(CHUNK, &mut src);
                let size = tokio::io::copy_buf(&mut reader, &mut spool)
                    .await
                    .map_err(|e| SshError::io("spool upload of", path, e))?;
                spool
                    .rewind()
                    .await
                    .map_err(|e| SshError::io("rewind spool of", path, e))?;
                scp::upload(self, path, &mut spool, size, mode).await
            }
        }
    }

    /// Uploads a local directory (see the crate docs for the trailing-slash rule and excludes).
    pub async fn upload_dir(
        &self,
        dst: &str,
        src: &Path,
        exclude: &[String],
    ) -> Result<(), SshError> {
        match self.transfer_method() {
            TransferMethod::Scp => scp::upload_dir(self, dst, src, exclude).await,
            TransferMethod::Sftp => sftp::upload_dir(self, dst, src, exclude).await,
        }
    }

    /// Downloads the remote file `path` into `sink`.
    pub async fn download<W: AsyncWrite + Unpin + Send>(
        &self,
        path: &str,
        mut sink: W,
    ) -> Result<(), SshError> {
        match self.transfer_method() {
            TransferMethod::Scp => scp::download(self, path, &mut sink).await,
            TransferMethod::Sftp => sftp::download(self, path, &mut sink).await,
        }
    }

    /// Downloads a remote directory into the local directory `dst` (created when missing).
    pub async fn download_dir(
        &self,
        src: &str,
        dst: &Path,
        exclude: &[String],
    ) -> Result<(), SshError> {
        match self.transfer_method() {
            TransferMethod::Scp => scp::download_dir(self, src, dst, exclude).await,
            TransferMethod::Sftp => sftp::download_dir(self, src, dst, exclude).await,
        }
    }
}
