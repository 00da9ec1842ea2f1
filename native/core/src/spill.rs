//! Values set aside on disk, by key: the cases a session has not touched lately, so that its
//! memory is bounded by the cases in play rather than by every case of the log.
//!
//! Values are encoded with postcard (a compact serde format) and appended to an anonymous
//! temporary file, which the system deletes when the store is dropped, on every exit path. A value
//! taken back leaves a hole: the file grows with what was written, not with what is held.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;

use rustc_hash::FxHashMap;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::value::Str;

struct Entry {
    offset: u64,
    len: u64,
    /// A flag the owner wants to read without bringing the value back (a dirty case).
    flag: bool,
}

pub struct Spill<T> {
    file: Option<BufWriter<File>>,
    end: u64,
    entries: FxHashMap<Str, Entry>,
    written: u64,
    /// Kept between values: one buffer to encode into, one to read back into (no allocation per value).
    encoded: Vec<u8>,
    read: Vec<u8>,
    _value: std::marker::PhantomData<T>,
}

impl<T> Default for Spill<T> {
    fn default() -> Self {
        Spill {
            file: None,
            end: 0,
            entries: FxHashMap::default(),
            written: 0,
            encoded: Vec::new(),
            read: Vec::new(),
            _value: std::marker::PhantomData,
        }
    }
}

impl<T: Serialize + DeserializeOwned> Spill<T> {
    /// Set `value` aside under `key` (which must not be held already).
    pub fn put(&mut self, key: Str, value: &T, flag: bool) -> io::Result<()> {
        self.encoded.clear();
        let bytes = postcard::to_extend(value, std::mem::take(&mut self.encoded));
        self.encoded = bytes.map_err(io::Error::other)?;
        let bytes = &self.encoded;
        let file = match &mut self.file {
            Some(file) => file,
            None => self
                .file
                .insert(BufWriter::with_capacity(1 << 20, tempfile::tempfile()?)),
        };
        file.write_all(bytes)?;
        let len = bytes.len() as u64;
        self.entries.insert(
            key,
            Entry {
                offset: self.end,
                len,
                flag,
            },
        );
        self.end += len;
        self.written += len;
        Ok(())
    }

    pub fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes written to the file so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The keys held, with their flags.
    pub fn keys(&self) -> impl Iterator<Item = (&Str, bool)> {
        self.entries.iter().map(|(k, e)| (k, e.flag))
    }

    /// A copy of the value under `key`, which stays held.
    pub fn peek(&mut self, key: &str) -> Option<T> {
        let (offset, len) = self.entries.get(key).map(|e| (e.offset, e.len))?;
        Some(self.read(offset, len))
    }

    /// The value under `key`, no longer held.
    pub fn take(&mut self, key: &str) -> Option<T> {
        let entry = self.entries.remove(key)?;
        Some(self.read(entry.offset, entry.len))
    }

    fn read(&mut self, offset: u64, len: u64) -> T {
        // The file is this process's own, unlinked: failing to read back what was just written is
        // a failure of the machine (disk, memory), not of the input, and nothing sound can follow.
        let file = self.file.as_mut().expect("a held value has a file");
        // Only what is still in the writer's buffer needs writing out first: a batch of spilled
        // cases is then read back without a write per case.
        if offset + len > self.end - file.buffer().len() as u64 {
            file.flush().expect("flushing the spill file");
        }
        self.read.resize(len as usize, 0);
        file.get_ref()
            .read_exact_at(&mut self.read, offset)
            .expect("reading back the spill file");
        postcard::from_bytes(&self.read).expect("decoding a value this process encoded")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_back_as_they_went() {
        let mut spill: Spill<(String, f64, Vec<i128>)> = Spill::default();
        let a = ("a".to_string(), 0.1 + 0.2, vec![i128::MAX, -1]);
        let b = ("é\n".to_string(), f64::NEG_INFINITY, vec![]);
        spill.put(Str::from("a"), &a, false).unwrap();
        spill.put(Str::from("b"), &b, true).unwrap();
        assert_eq!(spill.peek("a"), Some(a.clone()));
        assert_eq!(spill.take("b"), Some(b));
        assert_eq!(spill.take("b"), None);
        assert_eq!(spill.len(), 1);
        let flags: Vec<bool> = spill.keys().map(|(_, f)| f).collect();
        assert_eq!(flags, vec![false]);
        assert_eq!(spill.take("a"), Some(a));
        assert!(spill.is_empty());
    }
}
