//! Random hex strings for passwords and directory names, from the kernel's
//! random source (`/dev/urandom`), so the crate needs no RNG dependency.

use std::io::Read;

/// `bytes` random bytes as lowercase hex (`2 * bytes` characters).
///
/// Falls back to std's per-process random hash keys (which std also takes
/// from the OS) mixed with the time, should `/dev/urandom` be unreadable.
pub(crate) fn hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf));
    if read.is_err() {
        fallback(&mut buf);
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn fallback(buf: &mut [u8]) {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    for chunk in buf.chunks_mut(8) {
        // RandomState is seeded per process from the OS where it can be.
        let mut h = RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        h.write_u32(std::process::id());
        let v = h.finish().to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}
