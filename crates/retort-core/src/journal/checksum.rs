//! Checksums of revision files, insensitive to line endings: a file checked out with CRLF on
//! one machine and LF on another is the same revision.

use sha2::{Digest, Sha256};
use std::path::Path;

/// SHA-256 (hex) of `bytes` with every CRLF and lone CR read as LF.
pub fn checksum(bytes: &[u8]) -> String {
    let mut hasher = Sha256::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\r' {
            hasher.update(&bytes[start..i]);
            hasher.update(b"\n");
            i += if bytes.get(i + 1) == Some(&b'\n') {
                2
            } else {
                1
            };
            start = i;
        } else {
            i += 1;
        }
    }
    hasher.update(&bytes[start..]);
    hex(&hasher.finalize())
}

/// [`checksum`] of a file's contents.
pub fn file_checksum(path: &Path) -> std::io::Result<String> {
    std::fs::read(path).map(|bytes| checksum(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings_do_not_count() {
        let lf = checksum(b"-- revision: a\nCREATE TABLE t (id int);\n");
        assert_eq!(
            lf,
            checksum(b"-- revision: a\r\nCREATE TABLE t (id int);\r\n")
        );
        assert_eq!(lf, checksum(b"-- revision: a\rCREATE TABLE t (id int);\r"));
        assert_ne!(
            lf,
            checksum(b"-- revision: a\nCREATE TABLE t (id bigint);\n")
        );
        // Only endings are normalised: a blank line more is a change.
        assert_ne!(
            lf,
            checksum(b"-- revision: a\n\nCREATE TABLE t (id int);\n")
        );
        assert_eq!(
            checksum(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
