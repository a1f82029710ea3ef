//! Fingerprints of fits: what makes two fits "the same problem".
//!
//! A `Fingerprinter` is a blake3 hasher with a framing discipline: every field is
//! absorbed as `tag, length, bytes`, with the tag itself length-prefixed, so that no
//! two different sequences of fields can produce the same byte stream (no ambiguity
//! from concatenation, e.g. `("ab", "c")` vs `("a", "bc")`, and no confusion between
//! fields that happen to hold the same bytes). Floating-point values are hashed by bit
//! pattern after folding `-0.0` to `+0.0` and every NaN to one NaN, so values that
//! compare equal (or are both missing) hash equal.
//!
//! A fit has two keys (`ModelKeys`): the *exact* key covers everything that determines
//! the optimum, data values included; the *model* key leaves out the data values and
//! the row count, so that fits of the same model to related data (cross-validation
//! folds, updated data, resamples) can seed each other.

use crate::basis::SmoothSpec;
use crate::fit::ModelSpec;

/// Version of what is hashed and stored; bump it whenever either changes meaning.
pub const SCHEMA_VERSION: u32 = 1;

/// The engine's version, part of every exact key: a new engine never trusts an old
/// engine's finalized results.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A 256-bit blake3 digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses 64 lowercase hex digits (a store directory name); anything else is not a
    /// fingerprint.
    pub fn from_hex(s: &str) -> Option<Fingerprint> {
        if s.len() != 64 || !s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)) {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Fingerprint(out))
    }
}

/// Values per block when canonicalizing floats before hashing: large enough to keep
/// blake3's SIMD paths busy, small enough to stay in cache.
const FLOAT_BLOCK: usize = 8192;

pub struct Fingerprinter {
    hasher: blake3::Hasher,
    buf: Vec<u8>,
}

impl Fingerprinter {
    /// A hasher for one kind of fingerprint; `domain` separates kinds (exact vs model).
    pub fn new(domain: &str) -> Fingerprinter {
        let mut f = Fingerprinter { hasher: blake3::Hasher::new(), buf: Vec::new() };
        f.str("domain", domain);
        f
    }

    fn frame(&mut self, tag: &str, kind: u8, len: u64) {
        self.hasher.update(&(tag.len() as u64).to_le_bytes());
        self.hasher.update(tag.as_bytes());
        self.hasher.update(&[kind]);
        self.hasher.update(&len.to_le_bytes());
    }

    pub fn bytes(&mut self, tag: &str, value: &[u8]) {
        self.frame(tag, b'b', value.len() as u64);
        self.hasher.update(value);
    }

    pub fn str(&mut self, tag: &str, value: &str) {
        self.frame(tag, b's', value.len() as u64);
        self.hasher.update(value.as_bytes());
    }

    pub fn u64(&mut self, tag: &str, value: u64) {
        self.frame(tag, b'u', 8);
        self.hasher.update(&value.to_le_bytes());
    }

    pub fn flag(&mut self, tag: &str, value: bool) {
        self.frame(tag, b'f', 1);
        self.hasher.update(&[value as u8]);
    }

    pub fn f64(&mut self, tag: &str, value: f64) {
        self.f64s(tag, &[value]);
    }

    pub fn f64s(&mut self, tag: &str, values: &[f64]) {
        self.frame(tag, b'd', values.len() as u64);
        for block in values.chunks(FLOAT_BLOCK) {
            // Almost every block holds no -0.0 and no NaN, and is hashed in place.
            if block.iter().any(|v| canonical_bits(*v) != v.to_bits()) {
                self.buf.clear();
                self.buf.extend(block.iter().flat_map(|v| canonical_bits(*v).to_le_bytes()));
                self.hasher.update(&self.buf);
            } else {
                self.absorb_le(block);
            }
        }
    }

    /// The little-endian bytes of `values`.
    fn absorb_le(&mut self, values: &[f64]) {
        #[cfg(target_endian = "little")]
        {
            // SAFETY: any f64 slice is a valid byte slice of 8 times its length, and
            // on a little-endian target those bytes are each value's `to_le_bytes`.
            let bytes = unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values)) };
            self.hasher.update(bytes);
        }
        #[cfg(not(target_endian = "little"))]
        {
            self.buf.clear();
            self.buf.extend(values.iter().flat_map(|v| v.to_le_bytes()));
            self.hasher.update(&self.buf);
        }
    }

    /// An optional value: absent and present are framed differently.
    pub fn opt_f64s(&mut self, tag: &str, values: Option<&[f64]>) {
        match values {
            Some(v) => self.f64s(tag, v),
            None => self.frame(tag, b'n', 0),
        }
    }

    /// Starts a group of `len` fields (a list); the count separates lists of different
    /// lengths whose members would otherwise run together.
    pub fn list(&mut self, tag: &str, len: usize) {
        self.frame(tag, b'l', len as u64);
    }

    pub fn finish(&self) -> Fingerprint {
        Fingerprint(*self.hasher.finalize().as_bytes())
    }
}

/// The bit pattern hashed for a float: equal values and all NaNs agree.
fn canonical_bits(v: f64) -> u64 {
    if v.is_nan() {
        f64::NAN.to_bits()
    } else if v == 0.0 {
        0
    } else {
        v.to_bits()
    }
}

/// What identifies a model besides the engine spec: supplied by the R layer, which
/// alone knows the formula and the family.
#[derive(Debug, Clone, Default)]
pub struct ModelIdentity {
    /// The formula, deparsed without its environment.
    pub formula: String,
    pub family: String,
    pub link: String,
    /// Names of the parametric model matrix columns (they carry factor levels and
    /// contrasts, which the values alone do not).
    pub parametric_names: Vec<String>,
}

/// The two keys of a fit.
#[derive(Debug, Clone, Copy)]
pub struct ModelKeys {
    pub exact: Fingerprint,
    pub model: Fingerprint,
}

pub fn model_keys(spec: &ModelSpec<'_>, identity: &ModelIdentity) -> ModelKeys {
    let mut model = Fingerprinter::new("warmgam model key");
    absorb_model(&mut model, spec, identity);
    let mut exact = Fingerprinter::new("warmgam exact key");
    absorb_model(&mut exact, spec, identity);
    absorb_data(&mut exact, spec);
    ModelKeys { exact: exact.finish(), model: model.finish() }
}

/// Everything but the data: the store schema, the engine, the model's structure and
/// the options that change the optimum. (`max_iter`, `max_step` and `threads` change
/// the path or the speed, not the optimum, so a fit stopped by the iteration limit can
/// be resumed with a larger one.)
fn absorb_model(f: &mut Fingerprinter, spec: &ModelSpec<'_>, id: &ModelIdentity) {
    f.u64("schema", SCHEMA_VERSION as u64);
    f.str("engine", ENGINE_VERSION);
    f.str("formula", &id.formula);
    f.str("family", &id.family);
    f.str("link", &id.link);
    f.list("parametric", id.parametric_names.len());
    for name in &id.parametric_names {
        f.str("column", name);
    }
    f.list("smooths", spec.smooths.len());
    for sm in &spec.smooths {
        absorb_smooth(f, sm);
    }
    f.str("method", spec.method.as_str());
    f.f64("gamma", spec.gamma);
    f.list("sp", spec.sp.len());
    for sp in &spec.sp {
        f.opt_f64s("sp", sp.as_ref().map(std::slice::from_ref));
    }
    f.f64("tol", spec.control.tol);
}

fn absorb_smooth(f: &mut Fingerprinter, sm: &SmoothSpec<'_>) {
    f.str("label", &sm.label);
    f.str("bs", &sm.bs);
    f.u64("k", sm.k.map_or(0, |k| k as u64));
    f.u64("dim", sm.vars.len() as u64);
    f.flag("by", sm.by.is_some());
    f.flag("centre", sm.centre);
    f.opt_f64s("knots", sm.knots.as_deref());
    f.list("m", sm.m.len());
    for m in &sm.m {
        f.u64("m", *m as u64);
    }
}

/// The data: response, weights, offset, parametric columns, covariates and `by`
/// values (the row count is implied by their lengths).
fn absorb_data(f: &mut Fingerprinter, spec: &ModelSpec<'_>) {
    f.f64s("y", &spec.y);
    f.f64s("weights", &spec.weights);
    f.f64s("offset", &spec.offset);
    f.u64("parametric columns", spec.xp.ncols() as u64);
    for col in spec.xp.columns() {
        match col.as_slice() {
            Some(s) => f.f64s("column", s),
            None => f.f64s("column", &col.to_vec()),
        }
    }
    for sm in &spec.smooths {
        f.list("covariates", sm.vars.len());
        for v in &sm.vars {
            f.f64s("covariate", v);
        }
        f.opt_f64s("by", sm.by.as_deref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(build: impl FnOnce(&mut Fingerprinter)) -> Fingerprint {
        let mut f = Fingerprinter::new("test");
        build(&mut f);
        f.finish()
    }

    #[test]
    fn stable_across_runs() {
        // A fixed input must always give this digest: keys written by one process are
        // looked up by another, possibly built on another day.
        let d = digest(|f| {
            f.str("a", "hello");
            f.f64s("b", &[1.0, -2.5]);
            f.u64("c", 7);
        });
        assert_eq!(d.to_hex(), FIXED_DIGEST);
        assert_eq!(Fingerprint::from_hex(&d.to_hex()), Some(d));
    }

    const FIXED_DIGEST: &str = "56e61859a0269845660c7d60e3709e307184a36f97644f2a5245fe6efe3cb548";

    #[test]
    fn field_boundaries_and_tags_separate() {
        let ab_c = digest(|f| {
            f.str("x", "ab");
            f.str("x", "c");
        });
        let a_bc = digest(|f| {
            f.str("x", "a");
            f.str("x", "bc");
        });
        assert_ne!(ab_c, a_bc);
        let tag_swap = digest(|f| {
            f.str("y", "ab");
            f.str("x", "c");
        });
        assert_ne!(ab_c, tag_swap);
        let order_swap = digest(|f| {
            f.str("x", "c");
            f.str("x", "ab");
        });
        assert_ne!(ab_c, order_swap);
        // The same bytes as a string and as raw bytes are different fields.
        assert_ne!(digest(|f| f.str("x", "ab")), digest(|f| f.bytes("x", b"ab")));
        // Lists of different lengths cannot run together.
        let one = digest(|f| {
            f.list("l", 2);
            f.f64s("v", &[1.0]);
            f.f64s("v", &[2.0]);
        });
        let two = digest(|f| {
            f.list("l", 1);
            f.f64s("v", &[1.0]);
            f.f64s("v", &[2.0]);
        });
        assert_ne!(one, two);
        assert_ne!(digest(|f| f.f64s("v", &[1.0, 2.0])), digest(|f| {
            f.f64s("v", &[1.0]);
            f.f64s("v", &[2.0]);
        }));
    }

    #[test]
    fn floats_hash_by_value() {
        assert_eq!(digest(|f| f.f64("z", 0.0)), digest(|f| f.f64("z", -0.0)));
        let other_nan = f64::from_bits(f64::NAN.to_bits() | 1);
        assert_eq!(digest(|f| f.f64("z", f64::NAN)), digest(|f| f.f64("z", other_nan)));
        assert_ne!(digest(|f| f.f64("z", 1.0)), digest(|f| f.f64("z", 1.0 + f64::EPSILON)));
        // Blocks: a long vector hashes the same however it was produced.
        let long: Vec<f64> = (0..3 * FLOAT_BLOCK + 5).map(|i| i as f64 * 0.5).collect();
        let mut changed = long.clone();
        changed[2 * FLOAT_BLOCK + 1] += 1e-9;
        assert_eq!(digest(|f| f.f64s("v", &long)), digest(|f| f.f64s("v", &long.clone())));
        assert_ne!(digest(|f| f.f64s("v", &long)), digest(|f| f.f64s("v", &changed)));
    }

    #[test]
    fn hex_parsing_rejects_paths() {
        assert!(Fingerprint::from_hex("../etc").is_none());
        assert!(Fingerprint::from_hex(&"A".repeat(64)).is_none());
        assert!(Fingerprint::from_hex(&"a".repeat(63)).is_none());
        assert!(Fingerprint::from_hex(&"0".repeat(64)).is_some());
    }
}
