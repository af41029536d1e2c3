//! Helpers shared by the fuzz targets.

use multigrid_ebm::integrity;

/// The input with its checksum recomputed, so that a mutated file that carries a
/// `sha256:<64 hex digits>` value gets past the SHA-256 check and reaches the parsing behind it
/// (a mutant that changed any byte is otherwise refused there, which is right but shallow).
/// None where the input carries no such value exactly once.
pub fn resealed(data: &[u8]) -> Option<Vec<u8>> {
    const PREFIX: &[u8] = b"sha256:";
    let value_len = integrity::PLACEHOLDER.len();
    let mut found = data
        .windows(value_len)
        .enumerate()
        .filter(|(_, w)| w.starts_with(PREFIX) && w[PREFIX.len()..].iter().all(u8::is_ascii_hexdigit));
    let (at, _) = found.next()?;
    if found.next().is_some() {
        return None;
    }
    let mut unsealed = data.to_vec();
    unsealed[at..at + value_len].copy_from_slice(integrity::PLACEHOLDER.as_bytes());
    integrity::seal(unsealed).ok()
}
