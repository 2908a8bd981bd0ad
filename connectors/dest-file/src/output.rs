//! One output file of a stream: where it is, how it is opened (truncated
//! or appended to, a torn tail cut off) and what its CSV header holds.
//!
//! A stream's first file is `<stream>.<ext>`; each time a CSV stream's
//! fields change, the next is `<stream>.2.csv`, `<stream>.3.csv`, ...

use sluice_guest::{ConnectorError, Result, io_error};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The file of `stream` numbered `n` (1: the first, unnumbered).
pub(crate) fn file_name(stream: &str, n: u32, ext: &str) -> String {
    match n {
        1 => format!("{stream}.{ext}"),
        n => format!("{stream}.{n}.{ext}"),
    }
}

/// One open output file.
pub(crate) struct Output {
    pub(crate) path: PathBuf,
    pub(crate) file: BufWriter<File>,
    /// Its number: 1 for `<stream>.<ext>`, n for `<stream>.<n>.<ext>`.
    pub(crate) number: u32,
    /// CSV columns: the schema's (or configured schema's), else the first record's.
    pub(crate) columns: Option<Vec<String>>,
    /// Whether the CSV header (or any JSON line) is in the file.
    pub(crate) header_written: bool,
    /// Whether the stream is written in `overwrite` mode (new files are truncated).
    pub(crate) truncate: bool,
    pub(crate) dirty: bool,
}

impl Output {
    /// Open file `number` of `stream` in `dir`: truncated, or appended to
    /// after cutting off a torn last record. `csv`: read its header if it
    /// has one.
    pub(crate) fn open(
        dir: &Path,
        name: String,
        number: u32,
        truncate: bool,
        csv: bool,
    ) -> Result<Output> {
        let path = dir.join(name);
        if !truncate {
            cut_torn_tail(&path)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(!truncate)
            .truncate(truncate)
            .open(&path)
            .map_err(|e| io_error("open", &path, e))?;
        let existing = file.metadata().map(|m| m.len()).unwrap_or(0) > 0;
        let columns = match csv && existing {
            true => Some(read_csv_header(&path)?),
            false => None,
        };
        Ok(Output {
            path,
            file: BufWriter::with_capacity(1 << 20, file),
            number,
            columns,
            header_written: existing,
            truncate,
            dirty: false,
        })
    }

    /// Flush and fsync, if anything was written since the last time.
    pub(crate) fn sync(&mut self) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        self.file
            .flush()
            .map_err(|e| io_error("flush", &self.path, e))?;
        self.file
            .get_ref()
            .sync_all()
            .map_err(|e| io_error("fsync", &self.path, e))?;
        self.dirty = false;
        Ok(())
    }

    /// Append `bytes`.
    pub(crate) fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.dirty = true;
        self.file
            .write_all(bytes)
            .map_err(|e| io_error("write", &self.path, e))
    }
}

/// Remove `<stream>.2.<ext>`, `<stream>.3.<ext>`, ... (up to the first
/// missing one): an overwrite replaces every file of the stream.
pub(crate) fn remove_numbered(dir: &Path, stream: &str, ext: &str) -> Result<()> {
    for n in 2.. {
        let path = dir.join(file_name(stream, n, ext));
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
            Err(e) => return Err(io_error("remove", &path, e)),
        }
    }
    Ok(())
}

/// Cut a torn last record (bytes after the last newline) off `path`.
fn cut_torn_tail(path: &Path) -> Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error("open", path, e)),
    };
    let len = file
        .metadata()
        .map_err(|e| io_error("stat", path, e))?
        .len();
    let mut end = len;
    let mut chunk = vec![0u8; 64 << 10];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let buf = &mut chunk[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))
            .and_then(|_| file.read_exact(buf))
            .map_err(|e| io_error("read", path, e))?;
        if let Some(pos) = buf.iter().rposition(|b| *b == b'\n') {
            end = start + pos as u64 + 1;
            break;
        }
        end = start;
    }
    if end < len {
        sluice_guest::log(
            sluice_guest::Level::Warn,
            &format!(
                "cut {} bytes of a torn record off the end of `{}` (left by an interrupted run; it was not committed and is sent again)",
                len - end,
                path.display()
            ),
        );
        file.set_len(end)
            .map_err(|e| io_error("truncate", path, e))?;
        file.sync_all().map_err(|e| io_error("fsync", path, e))?;
    }
    Ok(())
}

/// The header row of the CSV file at `path`.
pub(crate) fn read_csv_header(path: &Path) -> Result<Vec<String>> {
    let mut reader = csv::Reader::from_path(path)
        .map_err(|e| ConnectorError::config(format!("cannot read `{}`: {e}", path.display())))?;
    let headers = reader
        .headers()
        .map_err(|e| ConnectorError::config(format!("cannot read `{}`: {e}", path.display())))?;
    Ok(headers.iter().map(str::to_string).collect())
}
