//! What the store keeps for a fit, and its binary encoding (bincode 2 through serde).
//!
//! Decoding is bounded: every sequence in the payload is a `Bounded<T>`, whose
//! preallocation is charged against a budget equal to the payload's length, so a
//! hostile length prefix cannot make the reader allocate more than the entry's size
//! (serde's own `Vec` would preallocate up to 1 MiB per claimed sequence). Strings are
//! kept out of the payload for the same reason.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::key::SCHEMA_VERSION;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryKind {
    /// An iterate of an unfinished optimization, to resume from.
    Checkpoint,
    /// A converged fit, with everything the R object needs that is costly to compute.
    Final,
    /// A converged fit's smoothing parameters, filed under the model key to start fits
    /// of the same model on other data.
    Seed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub schema: u32,
    pub kind: EntryKind,
    /// Rows of the data it was fitted to.
    pub rows: u64,
    /// Log smoothing parameters, all of them (fixed ones included).
    pub rho: Bounded<f64>,
    pub coefficients: Bounded<f64>,
    pub scale: f64,
    pub criterion: f64,
    /// Outer iterations done when the entry was written (summed over resumed runs).
    pub iteration: u64,
    /// Values of the family's parameters its search tried (0 without one).
    pub family_trials: u64,
    pub converged: bool,
    pub finished: Option<FinishedFit>,
}

/// The costly parts of a converged fit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FinishedFit {
    /// `Vp` and `Ve`, column-major `p x p`.
    pub vp: Bounded<f64>,
    pub ve: Bounded<f64>,
    pub edf: Bounded<f64>,
    pub edf1: Bounded<f64>,
    pub gradient: Bounded<f64>,
    pub hessian_eigenvalues: Bounded<f64>,
    pub deviance: f64,
    pub null_deviance: f64,
    pub null_space_dim: u64,
    pub termination: u8,
    pub term_tests: StoredTests,
    pub smooths: StoredSmooths,
    /// `Vc` (column-major `p x p`) and `edf2`; empty when the fit has none.
    pub vc: Bounded<f64>,
    pub edf2: Bounded<f64>,
}

/// The smooth terms' constructed bases (knots, constraints, penalties), so that an
/// exact hit need not construct them again from the data. Flat, as `StoredTests`:
/// term `i` has `field_counts[i]` fields; each field is a name (an index into
/// `basis::STATE_FIELDS`) and `field_lengths` of the concatenated `values`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredSmooths {
    /// Index into `basis::CLASSES`, per term.
    pub classes: Bounded<u8>,
    pub field_counts: Bounded<f64>,
    pub field_names: Bounded<u8>,
    pub field_lengths: Bounded<f64>,
    pub values: Bounded<f64>,
}

/// The smooth terms' test statistics (see `fit::term_tests::TermTest`), one entry
/// per term in each field. Held as flat sequences of numbers, each as large in memory
/// as in the payload, which is what keeps decoding within the entry's size.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredTests {
    pub random_effect: Bounded<u8>,
    pub stat: Bounded<f64>,
    pub stat1: Bounded<f64>,
    pub rank: Bounded<f64>,
    pub rank1: Bounded<f64>,
    /// How many of `weights` belong to each term, in order.
    pub weight_counts: Bounded<f64>,
    /// The chi-squared mixture weights of every term, concatenated.
    pub weights: Bounded<f64>,
}

impl Entry {
    pub fn new(kind: EntryKind, rows: usize, rho: Vec<f64>, criterion: f64, iteration: usize) -> Entry {
        Entry {
            schema: SCHEMA_VERSION,
            kind,
            rows: rows as u64,
            rho: Bounded(rho),
            coefficients: Bounded(Vec::new()),
            scale: f64::NAN,
            criterion,
            iteration: iteration as u64,
            family_trials: 0,
            converged: false,
            finished: None,
        }
    }

    /// The seed a final entry leaves for fits to other data of the same model: its
    /// parameters, and its coefficients with the bases they belong to (from which a
    /// seeded fit forms the seed's linear predictor at its own rows), without the
    /// fit's costly summaries.
    pub fn seed(&self) -> Entry {
        let smooths = self.finished.as_ref().map(|f| f.smooths.clone()).unwrap_or_default();
        Entry {
            kind: EntryKind::Seed,
            finished: Some(FinishedFit { smooths, ..FinishedFit::default() }),
            ..self.clone()
        }
    }
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard()
}

pub fn encode(entry: &Entry) -> Vec<u8> {
    // Encoding plain numbers and sequences cannot fail.
    bincode::serde::encode_to_vec(entry, config()).expect("entries always encode")
}

/// Decodes a payload; `None` for anything that is not exactly one well-formed entry of
/// this schema.
pub fn decode(bytes: &[u8]) -> Option<Entry> {
    BUDGET.with(|b| b.set(bytes.len()));
    let decoded = bincode::serde::decode_from_slice::<Entry, _>(bytes, config());
    BUDGET.with(|b| b.set(0));
    match decoded {
        Ok((entry, used)) if used == bytes.len() && entry.schema == SCHEMA_VERSION => Some(entry),
        _ => None,
    }
}

thread_local! {
    /// Bytes the current decode may still preallocate.
    static BUDGET: Cell<usize> = const { Cell::new(0) };
}

/// A sequence whose decoding allocates only against the decode budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Bounded<T>(pub Vec<T>);

impl<T> Default for Bounded<T> {
    fn default() -> Self {
        Bounded(Vec::new())
    }
}

impl<T: Serialize> Serialize for Bounded<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Bounded<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct BoundedVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for BoundedVisitor<T> {
            type Value = Bounded<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sequence")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let claimed = seq.size_hint().unwrap_or(0);
                let size = std::mem::size_of::<T>().max(1);
                let affordable = BUDGET.with(|b| b.get()) / size;
                if claimed > affordable {
                    return Err(serde::de::Error::custom("sequence longer than its entry"));
                }
                BUDGET.with(|b| b.set(b.get() - claimed * size));
                let mut out = Vec::with_capacity(claimed);
                while let Some(v) = seq.next_element()? {
                    if out.len() == claimed {
                        return Err(serde::de::Error::custom("sequence longer than claimed"));
                    }
                    out.push(v);
                }
                Ok(Bounded(out))
            }
        }

        d.deserialize_seq(BoundedVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn sample() -> Entry {
        let mut e = Entry::new(EntryKind::Final, 100, vec![0.5, -1.0], 12.5, 7);
        e.coefficients = Bounded(vec![1.0, 2.0, 3.0]);
        e.scale = 0.25;
        e.converged = true;
        e.finished = Some(FinishedFit {
            vp: Bounded(vec![1.0; 9]),
            ve: Bounded(vec![0.5; 9]),
            edf: Bounded(vec![1.0, 0.5, 0.25]),
            edf1: Bounded(vec![1.0, 0.6, 0.3]),
            gradient: Bounded(vec![1e-9, -1e-9]),
            hessian_eigenvalues: Bounded(vec![0.5, 2.0]),
            deviance: 3.0,
            null_deviance: 9.0,
            null_space_dim: 1,
            termination: 0,
            term_tests: StoredTests {
                random_effect: Bounded(vec![0, 1]),
                stat: Bounded(vec![10.0, 3.0]),
                stat1: Bounded(vec![11.0, 3.0]),
                rank: Bounded(vec![1.5, 4.0]),
                rank1: Bounded(vec![2.0, 4.0]),
                weight_counts: Bounded(vec![2.0, 0.0]),
                weights: Bounded(vec![0.5, 0.5]),
            },
            smooths: StoredSmooths {
                classes: Bounded(vec![0]),
                field_counts: Bounded(vec![2.0]),
                field_names: Bounded(vec![0, 1]),
                field_lengths: Bounded(vec![3.0, 1.0]),
                values: Bounded(vec![0.0, 0.5, 1.0, 2.0]),
            },
            vc: Bounded(vec![1.5; 9]),
            edf2: Bounded(vec![1.0, 0.55, 0.28]),
        });
        e
    }

    #[test]
    fn round_trip() {
        let e = sample();
        assert_eq!(decode(&encode(&e)), Some(e));
        // Large matrices leave no slack in the decode budget: still decodes.
        let mut big = sample();
        if let Some(f) = big.finished.as_mut() {
            f.vp = Bounded(vec![0.25; 100 * 100]);
            f.ve = Bounded(vec![0.5; 100 * 100]);
        }
        assert_eq!(decode(&encode(&big)), Some(big));
    }

    #[test]
    fn rejects_truncation_trailing_bytes_and_garbage() {
        let bytes = encode(&sample());
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_none(), "prefix of {cut} bytes decoded");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_none());
        let garbage: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        assert!(decode(&garbage).is_none());
    }

    #[test]
    fn hostile_lengths_are_refused_before_allocating() {
        // A valid entry whose `rho` length prefix claims 2^60 elements: bincode's
        // varint for u64 is 0xFD followed by 8 bytes.
        let e = Entry::new(EntryKind::Seed, 1, vec![], 0.0, 0);
        let bytes = encode(&e);
        // schema (1 byte), kind (1), rows (1), then rho's length (1 byte: 0).
        assert_eq!(bytes[3], 0);
        let mut hostile = bytes[..3].to_vec();
        hostile.push(0xFD);
        hostile.extend((1u64 << 60).to_le_bytes());
        hostile.extend(&bytes[4..]);
        assert!(decode(&hostile).is_none());
    }

    /// The encoded layout of an entry at each schema version since 5: the digest of
    /// `sample()` encoded with its schema field zeroed. A change to what is stored
    /// changes the digest; it then needs a new row here *and* a bump of
    /// `SCHEMA_VERSION`, so that no store written before is misread (never edit a
    /// row).
    const LAYOUTS: [(u32, &str); 2] = [
        (5, "a57a6bac306a7540aef99d9c5be5054b812254b7354182ac28e216297c62f700"),
        (6, "7f16facdb7bdc07e9a42a9bbc82e8300b5ca62b741c2317df985a21723ffc5b3"),
    ];

    /// Issue 15.6: the schema stayed at 4 while the meaning of stored numbers changed.
    #[test]
    fn encoded_layout_is_pinned() {
        let mut e = sample();
        e.schema = 0;
        let digest = blake3::hash(&encode(&e)).to_hex().to_string();
        let (schema, pinned) = LAYOUTS[LAYOUTS.len() - 1];
        assert_eq!(schema, SCHEMA_VERSION, "add a row to LAYOUTS for the new schema");
        assert_eq!(digest, pinned, "the stored layout changed: bump SCHEMA_VERSION and add a row to LAYOUTS");
        assert!(LAYOUTS.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 != w[1].1));
    }
}
