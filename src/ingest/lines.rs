//! Physical lines from a buffered reader, with a hard length cap.
//!
//! `BufRead::read_until` would grow its buffer without bound on a file with no newlines;
//! this reader stops copying at [`MAX_LINE_BYTES`] and skips to the next newline, so a
//! bad line costs one row error, not the process's memory.

use super::error::{IngestError, MAX_LINE_BYTES, Problem, RowError};
use super::event::Event;
use super::read::Sink;
use std::io::{self, BufRead};

/// Outcome of reading one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineRead {
    /// A line was appended to the buffer (without its `\n` or `\r\n`).
    Line,
    /// The line was longer than the cap; nothing was appended and the line was skipped.
    TooLong,
    /// End of input.
    Eof,
}

/// One line read as text by [`LineReader::next_text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextLine<'b> {
    /// End of input.
    Eof,
    /// A line that was over-long or not UTF-8, already handed to the sink as a bad row.
    Bad,
    /// The line's number and text.
    Text(u64, &'b str),
}

/// Reads lines, counting them from 1 and dropping a leading UTF-8 byte-order mark.
pub struct LineReader<R> {
    inner: R,
    line: u64,
}

impl<R: BufRead> LineReader<R> {
    /// Wraps a buffered reader.
    pub fn new(inner: R) -> Self {
        LineReader { inner, line: 0 }
    }

    /// 1-based number of the last line read (0 before the first).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Appends the next line to `buf` (which may already hold earlier lines of one record).
    pub fn read_line(&mut self, buf: &mut Vec<u8>) -> io::Result<LineRead> {
        let start = buf.len();
        let mut too_long = false;
        let mut any = false;
        loop {
            let avail = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                break;
            }
            any = true;
            let (take, done) = match memchr::memchr(b'\n', avail) {
                Some(k) => (k, true),
                None => (avail.len(), false),
            };
            if !too_long {
                if buf.len() - start + take > MAX_LINE_BYTES {
                    too_long = true;
                    buf.truncate(start);
                } else {
                    buf.extend_from_slice(&avail[..take]);
                }
            }
            self.inner.consume(if done { take + 1 } else { take });
            if done {
                break;
            }
        }
        if !any {
            return Ok(LineRead::Eof);
        }
        self.line += 1;
        if too_long {
            return Ok(LineRead::TooLong);
        }
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        if self.line == 1 && buf[start..].starts_with(b"\xEF\xBB\xBF") {
            buf.drain(start..start + 3);
        }
        Ok(LineRead::Line)
    }

    /// Reads the next line into `buf` (cleared first) as UTF-8 text; an over-long or
    /// non-UTF-8 line goes to `sink` as a bad row naming its line.
    pub fn next_text<'b, F: FnMut(u64, &Event<'_>)>(
        &mut self,
        buf: &'b mut Vec<u8>,
        sink: &mut Sink<'_, F>,
    ) -> Result<TextLine<'b>, IngestError> {
        buf.clear();
        let got = self
            .read_line(buf)
            .map_err(|e| IngestError::io(sink.path, e))?;
        let line = self.line;
        let problem = match got {
            LineRead::Eof => return Ok(TextLine::Eof),
            LineRead::TooLong => Problem::LineTooLong,
            LineRead::Line => match std::str::from_utf8(buf) {
                Ok(t) => return Ok(TextLine::Text(line, t)),
                Err(_) => Problem::InvalidUtf8,
            },
        };
        let raw: &[u8] = if problem == Problem::InvalidUtf8 {
            buf
        } else {
            &[]
        };
        let path = sink.path;
        sink.bad(RowError::new(path, line, "<line>", raw, problem))?;
        Ok(TextLine::Bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> Vec<(u64, LineRead, Vec<u8>)> {
        // A tiny buffer makes lines straddle refills.
        let mut r = LineReader::new(io::BufReader::with_capacity(3, input));
        let mut out = Vec::new();
        loop {
            let mut buf = Vec::new();
            let got = r.read_line(&mut buf).unwrap();
            if got == LineRead::Eof {
                return out;
            }
            out.push((r.line(), got, buf));
        }
    }

    #[test]
    fn strips_bom_crlf_and_counts_lines() {
        let got = lines(b"\xEF\xBB\xBFa,b\r\nc\n\nlast");
        assert_eq!(
            got,
            vec![
                (1, LineRead::Line, b"a,b".to_vec()),
                (2, LineRead::Line, b"c".to_vec()),
                (3, LineRead::Line, b"".to_vec()),
                (4, LineRead::Line, b"last".to_vec()),
            ]
        );
    }

    #[test]
    fn an_overlong_line_is_reported_and_skipped_not_buffered() {
        let mut input = b"ok\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES + 10));
        input.extend(b"\nafter\n");
        let got = lines(&input);
        assert_eq!(got.len(), 3);
        assert_eq!(got[1], (2, LineRead::TooLong, Vec::new()));
        assert_eq!(got[2], (3, LineRead::Line, b"after".to_vec()));
    }
}
