//! Feature tables from CSV for tabular mode (`gbdt train|predict`): parsed in parallel chunks,
//! empty cells and `NaN` read as missing, categorical columns read as string tokens.
//!
//! The file is split at line boundaries into fixed-size chunks; every chunk parses into its
//! own columns and the chunks are concatenated in file order, so the result (and the line
//! named by an error) never depends on the thread count.

use rayon::prelude::*;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Bytes per parse chunk (cut at the next newline).
const CHUNK_BYTES: usize = 1 << 22;

/// Why a feature table could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// The file could not be read.
    #[error("cannot read {}", path.display())]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// No header line.
    #[error("{}: empty file, expected a header line", path.display())]
    Empty {
        /// File.
        path: PathBuf,
    },
    /// Quoted fields are not supported by the fast reader.
    #[error("{}: line {line}: quoted fields are not supported in feature tables; hint: write numbers unquoted and categories without commas or quotes", path.display())]
    Quoted {
        /// File.
        path: PathBuf,
        /// 1-based line.
        line: usize,
    },
    /// A row with the wrong number of fields.
    #[error("{}: line {line}: {found} fields, the header has {expected}", path.display())]
    FieldCount {
        /// File.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// Fields on the line.
        found: usize,
        /// Fields in the header.
        expected: usize,
    },
    /// A cell of a numeric column that is not a number.
    #[error("{}: line {line}, column {column:?}: {value:?} is not a number (empty or NaN means missing)", path.display())]
    NotANumber {
        /// File.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// Column name.
        column: String,
        /// The cell.
        value: String,
    },
    /// A required column (label, weight, model feature) is absent.
    #[error("{}: no column {column:?} in the header", path.display())]
    MissingColumn {
        /// File.
        path: PathBuf,
        /// Column name.
        column: String,
    },
    /// A column name appears twice in the header.
    #[error("{}: column {column:?} appears twice in the header", path.display())]
    DuplicateColumn {
        /// File.
        path: PathBuf,
        /// Column name.
        column: String,
    },
}

/// How each column is read.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnKind {
    /// Numbers; empty and `NaN` are missing.
    Numeric,
    /// String tokens mapped to integer codes through a vocabulary; empty is missing.
    Categorical,
}

/// A parsed table: every column as f64 (categorical columns as codes into `vocab`).
#[derive(Clone, Debug)]
pub struct Table {
    /// Header names, in file order.
    pub names: Vec<String>,
    /// One column per name.
    pub columns: Vec<Vec<f64>>,
    /// Per column: the category tokens whose code is their index (categorical columns only).
    pub vocab: Vec<Option<Vec<String>>>,
}

impl Table {
    /// Index of a column by name.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
}

/// Cells of one chunk: numeric values, or token ids into the chunk's own token list.
enum ChunkColumn<'a> {
    Numeric(Vec<f64>),
    Categorical(Vec<Option<&'a str>>),
}

/// Reads `path`. Columns named in `categorical` are read as tokens; when `vocab` gives a
/// column's vocabulary (prediction), unseen tokens become missing, otherwise (training) the
/// vocabulary is the sorted set of tokens seen.
pub fn read_table(
    path: &Path,
    categorical: &[String],
    vocab: &HashMap<String, Vec<String>>,
) -> Result<Table, TableError> {
    let bytes = std::fs::read(path).map_err(|source| TableError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_table(path, &bytes, categorical, vocab)
}

/// [`read_table`] on bytes already in memory; `path` only names the source in errors.
pub fn parse_table(
    path: &Path,
    bytes: &[u8],
    categorical: &[String],
    vocab: &HashMap<String, Vec<String>>,
) -> Result<Table, TableError> {
    let header_end = memchr(b'\n', bytes).unwrap_or(bytes.len());
    let header = trim_cr(&bytes[..header_end]);
    if header.is_empty() {
        return Err(TableError::Empty {
            path: path.to_owned(),
        });
    }
    let names: Vec<String> = header
        .split(|&b| b == b',')
        .map(|f| String::from_utf8_lossy(f).trim().to_string())
        .collect();
    if header.contains(&b'"') {
        return Err(TableError::Quoted {
            path: path.to_owned(),
            line: 1,
        });
    }
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(TableError::DuplicateColumn {
                path: path.to_owned(),
                column: n.clone(),
            });
        }
    }
    let kinds: Vec<ColumnKind> = names
        .iter()
        .map(|n| {
            if categorical.contains(n) {
                ColumnKind::Categorical
            } else {
                ColumnKind::Numeric
            }
        })
        .collect();
    let body = &bytes[(header_end + 1).min(bytes.len())..];
    let chunks = split_chunks(body);
    // Lines before each chunk, so errors can name the file line.
    let line_counts: Vec<usize> = chunks
        .par_iter()
        .map(|c| c.iter().filter(|&&b| b == b'\n').count())
        .collect();
    let mut first_line = Vec::with_capacity(chunks.len());
    let mut acc = 2; // the header is line 1
    for n in &line_counts {
        first_line.push(acc);
        acc += n;
    }
    let parsed: Vec<Vec<ChunkColumn<'_>>> = chunks
        .par_iter()
        .zip(first_line.par_iter())
        .map(|(chunk, &line)| parse_chunk(path, chunk, line, &names, &kinds))
        .collect::<Result<_, _>>()?;

    let mut columns = Vec::with_capacity(names.len());
    let mut vocabs = Vec::with_capacity(names.len());
    let n_rows: usize = parsed.iter().map(|c| c.first().map_or(0, chunk_len)).sum();
    for (j, name) in names.iter().enumerate() {
        match kinds[j] {
            ColumnKind::Numeric => {
                let mut col = Vec::with_capacity(n_rows);
                for chunk in &parsed {
                    if let ChunkColumn::Numeric(v) = &chunk[j] {
                        col.extend_from_slice(v);
                    }
                }
                columns.push(col);
                vocabs.push(None);
            }
            ColumnKind::Categorical => {
                let tokens: Vec<String> = match vocab.get(name) {
                    Some(v) => v.clone(),
                    None => {
                        let mut seen = BTreeSet::new();
                        for chunk in &parsed {
                            if let ChunkColumn::Categorical(v) = &chunk[j] {
                                seen.extend(v.iter().flatten().copied());
                            }
                        }
                        seen.into_iter().map(str::to_owned).collect()
                    }
                };
                let code: HashMap<&str, f64> = tokens
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (t.as_str(), i as f64))
                    .collect();
                let mut col = Vec::with_capacity(n_rows);
                for chunk in &parsed {
                    if let ChunkColumn::Categorical(v) = &chunk[j] {
                        col.extend(
                            v.iter()
                                .map(|t| t.and_then(|t| code.get(t).copied()).unwrap_or(f64::NAN)),
                        );
                    }
                }
                columns.push(col);
                vocabs.push(Some(tokens));
            }
        }
    }
    Ok(Table {
        names,
        columns,
        vocab: vocabs,
    })
}

fn chunk_len(c: &ChunkColumn<'_>) -> usize {
    match c {
        ChunkColumn::Numeric(v) => v.len(),
        ChunkColumn::Categorical(v) => v.len(),
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Cuts `body` into chunks of about [`CHUNK_BYTES`] that end just after a newline.
fn split_chunks(body: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let cut = if rest.len() <= CHUNK_BYTES {
            rest.len()
        } else {
            memchr(b'\n', &rest[CHUNK_BYTES..]).map_or(rest.len(), |i| CHUNK_BYTES + i + 1)
        };
        let (a, b) = rest.split_at(cut);
        out.push(a);
        rest = b;
    }
    out
}

fn parse_chunk<'a>(
    path: &Path,
    chunk: &'a [u8],
    first_line: usize,
    names: &[String],
    kinds: &[ColumnKind],
) -> Result<Vec<ChunkColumn<'a>>, TableError> {
    let approx_rows = chunk.len() / (names.len() * 8).max(1) + 1;
    let mut cols: Vec<ChunkColumn<'a>> = kinds
        .iter()
        .map(|k| match k {
            ColumnKind::Numeric => ChunkColumn::Numeric(Vec::with_capacity(approx_rows)),
            ColumnKind::Categorical => ChunkColumn::Categorical(Vec::with_capacity(approx_rows)),
        })
        .collect();
    for (i, line) in chunk.split(|&b| b == b'\n').enumerate() {
        let line = trim_cr(line);
        let line_no = first_line + i;
        if line.is_empty() {
            continue; // blank lines (and the final newline) carry no row
        }
        if line.contains(&b'"') {
            return Err(TableError::Quoted {
                path: path.to_owned(),
                line: line_no,
            });
        }
        let mut n_fields = 0;
        for (j, field) in line.split(|&b| b == b',').enumerate() {
            n_fields += 1;
            let Some(col) = cols.get_mut(j) else { continue };
            let cell = trim_ascii(field);
            match col {
                ChunkColumn::Numeric(v) => {
                    let x = parse_number(cell).ok_or_else(|| TableError::NotANumber {
                        path: path.to_owned(),
                        line: line_no,
                        column: names[j].clone(),
                        value: String::from_utf8_lossy(cell).into_owned(),
                    })?;
                    v.push(x);
                }
                ChunkColumn::Categorical(v) => {
                    let token = std::str::from_utf8(cell)
                        .ok()
                        .filter(|t| !t.is_empty() && *t != "NaN");
                    v.push(token);
                }
            }
        }
        if n_fields != names.len() {
            return Err(TableError::FieldCount {
                path: path.to_owned(),
                line: line_no,
                found: n_fields,
                expected: names.len(),
            });
        }
    }
    Ok(cols)
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

/// A numeric cell: empty, `NaN`, `nan` and `NA` are missing; anything else must parse.
fn parse_number(cell: &[u8]) -> Option<f64> {
    if cell.is_empty() || cell == b"NaN" || cell == b"nan" || cell == b"NA" {
        return Some(f64::NAN);
    }
    std::str::from_utf8(cell).ok()?.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, cat: &[&str]) -> Result<Table, TableError> {
        let cat: Vec<String> = cat.iter().map(|s| s.to_string()).collect();
        parse_table(Path::new("t.csv"), text.as_bytes(), &cat, &HashMap::new())
    }

    #[test]
    fn reads_numbers_missing_and_categories() {
        let t = parse("a,b,c\r\n1.5,,red\n-2,NaN,blue\n3e2,7,\n", &["c"]).expect("valid");
        assert_eq!(t.names, ["a", "b", "c"]);
        assert_eq!(t.columns[0], [1.5, -2.0, 300.0]);
        assert!(t.columns[1][0].is_nan() && t.columns[1][1].is_nan());
        assert_eq!(t.columns[1][2], 7.0);
        assert_eq!(
            t.vocab[2].as_deref(),
            Some(&["blue".to_string(), "red".to_string()][..])
        );
        assert_eq!(t.columns[2][..2], [1.0, 0.0]);
        assert!(t.columns[2][2].is_nan());
    }

    #[test]
    fn prediction_vocab_maps_unseen_to_missing() {
        let vocab = HashMap::from([("c".to_string(), vec!["blue".to_string(), "red".to_string()])]);
        let t = parse_table(
            Path::new("t.csv"),
            b"c\nred\ngreen\n",
            &["c".to_string()],
            &vocab,
        )
        .expect("valid");
        assert_eq!(t.columns[0][0], 1.0);
        assert!(t.columns[0][1].is_nan());
    }

    #[test]
    fn bad_cells_name_line_and_column() {
        match parse("a,b\n1,2\n3,x7\n", &[]) {
            Err(e @ TableError::NotANumber { line: 3, .. }) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("line 3") && msg.contains("\"b\"") && msg.contains("x7"),
                    "{msg}"
                );
            }
            other => panic!("expected NotANumber, got {other:?}"),
        }
        assert!(matches!(
            parse("a,b\n1,2\n3\n", &[]),
            Err(TableError::FieldCount {
                line: 3,
                found: 1,
                ..
            })
        ));
        assert!(matches!(
            parse("a,a\n1,2\n", &[]),
            Err(TableError::DuplicateColumn { .. })
        ));
        assert!(matches!(
            parse("a\n\"1\"\n", &[]),
            Err(TableError::Quoted { line: 2, .. })
        ));
        assert!(matches!(parse("", &[]), Err(TableError::Empty { .. })));
    }

    #[test]
    fn chunked_parse_matches_line_numbers_across_chunks() {
        let mut text = String::from("x,y\n");
        let n = 400_000;
        for i in 0..n {
            text.push_str(&format!("{i},{}\n", i % 7));
        }
        let t = parse(&text, &[]).expect("valid");
        assert_eq!(t.columns[0].len(), n);
        assert!(t.columns[0].iter().enumerate().all(|(i, &v)| v == i as f64));
        text.push_str("1,bad\n");
        match parse(&text, &[]) {
            Err(TableError::NotANumber { line, .. }) => assert_eq!(line, n + 2),
            other => panic!("expected NotANumber, got {other:?}"),
        }
    }
}
