//! The files one search may see ([`AllowedFiles`]): per-document access
//! control, checked for every candidate chunk inside the scan, before it is
//! scored, so a forbidden file's chunks are never scored, counted or
//! returned.

use std::sync::Arc;

use super::ids::FileNo;

/// The set of files a search may read. Cheap to clone (shared) and to test
/// (one bit per file while file numbers are dense).
#[derive(Debug, Clone)]
pub struct AllowedFiles(Set);

#[derive(Debug, Clone)]
enum Set {
    All,
    /// Bit `n` set: file `n` allowed.
    Bits(Arc<[u64]>),
    /// Sorted, for numbers too sparse for a bitset.
    Sorted(Arc<[u32]>),
}

/// A bitset may be this many words (8 KiB) even when few files are in it;
/// beyond that it must be no more than 4 words per file.
const SMALL_BITSET_WORDS: usize = 1024;

impl AllowedFiles {
    /// Every file (no per-document restriction).
    pub fn all() -> Self {
        Self(Set::All)
    }

    /// No file at all: every search returns nothing.
    pub fn none() -> Self {
        Self(Set::Sorted(Arc::from(Vec::new())))
    }

    /// Exactly these files.
    pub fn only(files: impl IntoIterator<Item = FileNo>) -> Self {
        let mut numbers: Vec<u32> = files.into_iter().map(|f| f.0).collect();
        numbers.sort_unstable();
        numbers.dedup();
        let Some(&max) = numbers.last() else {
            return Self::none();
        };
        let words = max as usize / 64 + 1;
        if words > SMALL_BITSET_WORDS.max(numbers.len().saturating_mul(4)) {
            return Self(Set::Sorted(Arc::from(numbers)));
        }
        let mut bits = vec![0u64; words];
        for n in numbers {
            bits[n as usize / 64] |= 1 << (n % 64);
        }
        Self(Set::Bits(Arc::from(bits)))
    }

    /// Whether every file may be read.
    pub fn is_all(&self) -> bool {
        matches!(self.0, Set::All)
    }

    /// Whether `file` may be read.
    #[inline]
    pub fn contains(&self, file: FileNo) -> bool {
        match &self.0 {
            Set::All => true,
            Set::Bits(bits) => bits
                .get(file.0 as usize / 64)
                .is_some_and(|word| word & (1 << (file.0 % 64)) != 0),
            Set::Sorted(numbers) => numbers.binary_search(&file.0).is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_none_and_only() {
        assert!(AllowedFiles::all().contains(FileNo(u32::MAX)));
        assert!(!AllowedFiles::none().contains(FileNo(0)));
        assert!(!AllowedFiles::only([]).contains(FileNo(0)));
        let set = AllowedFiles::only([FileNo(0), FileNo(63), FileNo(64), FileNo(200)]);
        let inside: Vec<u32> = (0..300).filter(|&n| set.contains(FileNo(n))).collect();
        assert_eq!(inside, vec![0, 63, 64, 200]);
        assert!(!set.contains(FileNo(u32::MAX)));
    }

    #[test]
    fn sparse_numbers_use_a_sorted_list_not_a_huge_bitset() {
        let set = AllowedFiles::only([FileNo(3), FileNo(u32::MAX)]);
        assert!(matches!(set.0, Set::Sorted(_)));
        assert!(set.contains(FileNo(3)));
        assert!(set.contains(FileNo(u32::MAX)));
        assert!(!set.contains(FileNo(4)));
    }
}
