//! Framing: a 4-byte big-endian length, then that many bytes of JSON.
//! A length over the receiver's cap is refused before anything is read.

use std::io::{self, Read, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest request the daemon accepts: an import of a large jrnl journal
/// (the CLI caps the file at half this).
pub const MAX_REQUEST: u32 = 64 * 1024 * 1024;
/// Largest response the CLI accepts: a full export of a decade of entries.
pub const MAX_RESPONSE: u32 = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("connection closed")]
    Closed,
    #[error("frame of {0} bytes is over the {1}-byte limit")]
    TooLarge(u32, u32),
    #[error("malformed message: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
}

fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    let body = serde_json::to_vec(msg)?;
    let len = u32::try_from(body.len()).map_err(|_| FrameError::TooLarge(u32::MAX, u32::MAX))?;
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

fn check(len: u32, max: u32) -> Result<usize, FrameError> {
    if len > max {
        Err(FrameError::TooLarge(len, max))
    } else {
        Ok(len as usize)
    }
}

fn closed_if_eof(e: io::Error) -> FrameError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        FrameError::Closed
    } else {
        FrameError::Io(e)
    }
}

pub fn write_sync<T: Serialize>(w: &mut impl Write, msg: &T) -> Result<(), FrameError> {
    w.write_all(&encode(msg)?)?;
    w.flush()?;
    Ok(())
}

pub fn read_sync<T: DeserializeOwned>(r: &mut impl Read, max: u32) -> Result<T, FrameError> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).map_err(closed_if_eof)?;
    let mut body = vec![0u8; check(u32::from_be_bytes(len), max)?];
    r.read_exact(&mut body).map_err(closed_if_eof)?;
    Ok(serde_json::from_slice(&body)?)
}

pub async fn write_async<T: Serialize>(
    w: &mut (impl AsyncWrite + Unpin),
    msg: &T,
) -> Result<(), FrameError> {
    w.write_all(&encode(msg)?).await?;
    w.flush().await?;
    Ok(())
}

/// Reads one frame's raw bytes, so the caller can tell a frame that is not
/// valid JSON (answer with an error) from a broken connection (hang up).
pub async fn read_async_raw(
    r: &mut (impl AsyncRead + Unpin),
    max: u32,
) -> Result<Vec<u8>, FrameError> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await.map_err(closed_if_eof)?;
    let mut body = vec![0u8; check(u32::from_be_bytes(len), max)?];
    r.read_exact(&mut body).await.map_err(closed_if_eof)?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_round_trip_and_cap() {
        let mut buf = Vec::new();
        write_sync(&mut buf, &vec!["a", "b"]).unwrap();
        let got: Vec<String> = read_sync(&mut buf.as_slice(), 100).unwrap();
        assert_eq!(got, ["a", "b"]);
        assert!(matches!(
            read_sync::<Vec<String>>(&mut buf.as_slice(), 3),
            Err(FrameError::TooLarge(9, 3))
        ));
        assert!(matches!(
            read_sync::<Vec<String>>(&mut &buf[..5], 100),
            Err(FrameError::Closed)
        ));
        let mut junk = 3u32.to_be_bytes().to_vec();
        junk.extend_from_slice(b"{{{");
        assert!(matches!(
            read_sync::<Vec<String>>(&mut junk.as_slice(), 100),
            Err(FrameError::Decode(_))
        ));
    }

    #[tokio::test]
    async fn async_reads_what_sync_writes() {
        let mut buf = Vec::new();
        write_sync(&mut buf, &42u32).unwrap();
        let raw = read_async_raw(&mut buf.as_slice(), 100).await.unwrap();
        assert_eq!(raw, b"42");
        let huge = u32::MAX.to_be_bytes();
        assert!(matches!(
            read_async_raw(&mut huge.as_slice(), MAX_REQUEST).await,
            Err(FrameError::TooLarge(..))
        ));
    }
}
