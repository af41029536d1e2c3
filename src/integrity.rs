//! Content checksums for the files this crate writes (checkpoints, exported safetensors), so a
//! damaged or altered file is refused instead of loading as a silently different model.
//!
//! The SHA-256 covers the whole file, byte for byte. It is stored inside the file's own metadata
//! (burnpack's CBOR map, safetensors' JSON header), where both formats keep text verbatim:
//! the file is first written with [`PLACEHOLDER`] as the value, the digest of those bytes is
//! computed, and the placeholder is overwritten in place with `sha256:<64 hex digits>` (the same
//! length, so no offset moves). To verify, the stored value is put back to the placeholder and
//! the digest recomputed. Any changed, inserted or removed byte, the checksum's own included,
//! changes the digest.

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// The metadata key that holds the checksum, in both formats.
pub const KEY: &str = "multigrid.sha256";
/// How a checksum's value starts.
pub const PREFIX: &str = "sha256:";
/// What the checksum's value holds while the digest is computed.
pub const PLACEHOLDER: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// Whether a loaded file's contents were verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Integrity {
    /// The file carried a checksum and it matched.
    Verified,
    /// The file carries no checksum (written before checksums existed, or by another program).
    Unchecked,
}

fn digest_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The one place where `needle` occurs in `haystack`; None if it occurs never or more than once.
fn only_occurrence(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let mut found = haystack.windows(needle.len()).enumerate().filter(|(_, w)| *w == needle).map(|(i, _)| i);
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// Overwrite the placeholder in freshly serialised bytes with the digest of those bytes.
pub fn seal(mut bytes: Vec<u8>) -> Result<Vec<u8>> {
    let at = only_occurrence(&bytes, PLACEHOLDER.as_bytes()).ok_or_else(|| {
        Error::Checkpoint("internal: the checksum placeholder is not in the file exactly once".into())
    })?;
    let value = format!("{PREFIX}{}", digest_hex(&bytes));
    bytes[at..at + value.len()].copy_from_slice(value.as_bytes());
    Ok(bytes)
}

/// Check `bytes` against the checksum its metadata holds (`stored`, None where it has none).
pub fn verify(bytes: &[u8], stored: Option<&str>) -> Result<Integrity> {
    let Some(stored) = stored else { return Ok(Integrity::Unchecked) };
    let damaged = |why: &str| {
        Error::Checkpoint(format!(
            "its contents do not match the checksum it carries ({why}): the file was changed or damaged after it \
             was written (an incomplete or corrupted download, say), so it was not loaded"
        ))
    };
    let hex = stored.strip_prefix(PREFIX).filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    let Some(hex) = hex else { return Err(damaged("the stored checksum is malformed")) };
    let at = only_occurrence(bytes, stored.as_bytes()).ok_or_else(|| damaged("the checksum cannot be located"))?;
    let mut unsealed = bytes.to_vec();
    unsealed[at..at + PLACEHOLDER.len()].copy_from_slice(PLACEHOLDER.as_bytes());
    if digest_hex(&unsealed) != hex.to_ascii_lowercase() {
        return Err(damaged("SHA-256 mismatch"));
    }
    Ok(Integrity::Verified)
}

/// The warning to show for a file loaded without a checksum.
pub fn unchecked_warning(what: &str) -> String {
    format!(
        "{what} carries no checksum (written before checksums existed, or by another program): it is loaded unverified"
    )
}
