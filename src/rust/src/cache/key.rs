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
use crate::fit::general::{GeneralModel, Likelihood};
use crate::fit::ModelSpec;

/// Version of what is hashed and stored; bump it whenever either changes meaning
/// (`payload::tests::encoded_layout_is_pinned` fails when the stored layout changes).
/// 5: the engine version is DESCRIPTION's (0.5.1 stores were keyed 0.4.0).
pub const SCHEMA_VERSION: u32 = 6;

/// The engine's version, part of every exact key: a new engine never trusts an old
/// engine's finalized results. It is the R package's version (DESCRIPTION), which
/// `build.rs` hands over at build time.
pub const ENGINE_VERSION: &str = env!("WARMGAM_VERSION");

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
            // Almost every block holds no -0.0 and no NaN, and is hashed in place. (A
            // fold rather than `any`: without the early exit the check vectorizes.)
            let special = block.iter().fold(false, |acc, v| acc | (v.to_bits() == NEGATIVE_ZERO) | v.is_nan());
            if special {
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
            let bytes =
                unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values)) };
            self.hasher.update(bytes);
        }
        #[cfg(not(target_endian = "little"))]
        {
            self.buf.clear();
            self.buf.extend(values.iter().flat_map(|v| v.to_le_bytes()));
            self.hasher.update(&self.buf);
        }
    }

    /// A column of `len` values by the digest of its canonical bytes (`f64s` under
    /// another fingerprinter): long data are hashed in parallel, column by column.
    pub fn digested(&mut self, tag: &str, len: usize, digest: &[u8; 32]) {
        self.frame(tag, b'D', len as u64);
        self.hasher.update(digest);
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

/// The value every entry of `values` has (as `canonical_bits` sees it), if one does.
fn constant_value(values: &[f64]) -> Option<f64> {
    let first = canonical_bits(*values.first()?);
    // Block by block, so that a varying column is rejected after its first block.
    values
        .chunks(FLOAT_BLOCK)
        .all(|block| block.iter().fold(true, |same, v| same & (canonical_bits(*v) == first)))
        .then(|| f64::from_bits(first))
}

const NEGATIVE_ZERO: u64 = 0x8000_0000_0000_0000;

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

/// The keys of a general smooth model (`fit::general`): its structure (formula,
/// family, the predictors' blocks of columns, the penalties' places and sizes, the
/// given smoothing parameters) in both keys; its data, which the R layer turns into
/// the model matrix, penalties, response and offsets, in the exact key only.
pub fn general_keys(model: &GeneralModel<'_>, id: &ModelIdentity) -> ModelKeys {
    let absorb = |f: &mut Fingerprinter| {
        absorb_identity(f, id);
        f.u64("columns", model.x.ncols() as u64);
        f.list("predictors", model.lp.len());
        for blocks in &model.lp {
            f.list("blocks", blocks.len());
            for r in blocks {
                f.u64("block start", r.start as u64);
                f.u64("block end", r.end as u64);
            }
        }
        f.list("penalties", model.penalties.penalties.len());
        for (pen, &link) in model.penalties.penalties.iter().zip(&model.links) {
            f.u64("penalty start", pen.start as u64);
            f.u64("penalty size", pen.len() as u64);
            f.u64("penalty sp", link as u64);
        }
        f.list("sp", model.fixed.len());
        for sp in &model.fixed {
            f.opt_f64s("sp", sp.as_ref().map(std::slice::from_ref));
        }
        f.f64("tol", model.settings.tol);
    };
    let mut model_f = Fingerprinter::new("warmgam general model key");
    absorb(&mut model_f);
    let mut exact = Fingerprinter::new("warmgam general exact key");
    absorb(&mut exact);
    let n = model.y.len();
    exact.u64("rows", n as u64);
    // Column-major, as R holds it: the columns are consecutive runs.
    let x_columns: Vec<std::borrow::Cow<'_, [f64]>> = match model.x.t().to_slice() {
        Some(data) if n > 0 => data.chunks_exact(n).map(std::borrow::Cow::Borrowed).collect(),
        _ => model.x.columns().into_iter().map(|c| c.to_vec().into()).collect(),
    };
    let penalties: Vec<std::borrow::Cow<'_, [f64]>> = model
        .penalties
        .penalties
        .iter()
        .map(|p| p.s.as_slice_memory_order().map_or_else(|| p.s.iter().copied().collect(), std::borrow::Cow::Borrowed))
        .collect();
    let mut columns: Vec<(&str, Option<&[f64]>)> = vec![("y", Some(model.y))];
    columns.extend(model.offset.iter().map(|o| ("offset", Some(&o[..]))));
    if let Likelihood::Cox(sets) = &model.likelihood {
        let [status, strata] = sets.status_and_strata();
        columns.extend([("status", Some(status)), ("strata", Some(strata))]);
    }
    columns.extend(x_columns.iter().map(|c| ("column", Some(&c[..]))));
    columns.extend(penalties.iter().map(|s| ("penalty", Some(&s[..]))));
    let digests = column_digests(&columns, model.settings.threads);
    for ((tag, column), digest) in columns.iter().zip(&digests) {
        exact.digested(tag, column.map_or(0, |c| c.len()), digest);
    }
    ModelKeys { exact: exact.finish(), model: model_f.finish() }
}

/// The store schema, the engine, and the model as the R layer names it: formula,
/// family, link and the coefficients' (for a general model, all of them) names.
fn absorb_identity(f: &mut Fingerprinter, id: &ModelIdentity) {
    f.u64("schema", SCHEMA_VERSION as u64);
    f.str("engine", ENGINE_VERSION);
    f.str("formula", &id.formula);
    f.str("family", &id.family);
    f.str("link", &id.link);
    f.list("parametric", id.parametric_names.len());
    for name in &id.parametric_names {
        f.str("column", name);
    }
}

/// Everything but the data: the store schema, the engine, the model's structure and
/// the options that change the optimum. (`max_iter`, `max_step` and `threads` change
/// the path or the speed, not the optimum, so a fit stopped by the iteration limit can
/// be resumed with a larger one.)
fn absorb_model(f: &mut Fingerprinter, spec: &ModelSpec<'_>, id: &ModelIdentity) {
    absorb_identity(f, id);
    f.list("smooths", spec.smooths.len());
    for sm in &spec.smooths {
        absorb_smooth(f, sm);
    }
    f.str("method", spec.method.as_str());
    f.f64("gamma", spec.gamma);
    f.u64("aliased", spec.aliased as u64);
    f.list("parametric penalties", spec.parametric_penalties.len());
    for pen in &spec.parametric_penalties {
        f.u64("penalty start", pen.start as u64);
        f.f64s("penalty", pen.s.as_slice_memory_order().unwrap_or(&pen.s.iter().copied().collect::<Vec<_>>()));
        f.opt_f64s("penalty sp", pen.sp.as_ref().map(std::slice::from_ref));
    }
    // A given start (`in.out`) changes the path, not the optimum: not in the key.
    f.list("sp", spec.sp.len());
    for sp in &spec.sp {
        f.opt_f64s("sp", sp.as_ref().map(std::slice::from_ref));
    }
    // Absent from models without them, so that their keys are unchanged.
    if !spec.min_sp.is_empty() {
        f.f64s("min.sp", &spec.min_sp);
    }
    if let Some(scale) = spec.family.given_scale {
        f.f64("known scale", scale);
    }
    f.f64("tol", spec.control.tol);
}

fn absorb_smooth(f: &mut Fingerprinter, sm: &SmoothSpec<'_>) {
    f.str("label", &sm.label);
    f.str("bs", sm.kind.name());
    f.opt_f64s("k", sm.k.map(|k| k as f64).as_ref().map(std::slice::from_ref));
    f.u64("dim", sm.vars.len() as u64);
    f.flag("by", sm.by.is_some());
    f.flag("centre", sm.centre);
    f.flag("select", sm.select);
    match &sm.id {
        Some(id) => f.str("id", id),
        None => f.flag("no id", true),
    }
    // Knots drawn from the data are data (`absorb_data`): fits of one model to other
    // data seed each other.
    if sm.knots_sampled {
        f.flag("knots sampled", true);
    } else {
        f.opt_f64s("knots", sm.knots.as_deref());
    }
    f.list("m", sm.m.len());
    for m in &sm.m {
        f.u64("m", *m as u64);
    }
    // Absent when empty, so that other classes' keys are unchanged.
    if !sm.parameters.is_empty() {
        f.f64s("class parameters", &sm.parameters);
    }
    if let Some(s) = &sm.penalty {
        f.u64("penalty rows", s.nrows() as u64);
        f.f64s("penalty", s.as_slice_memory_order().expect("contiguous"));
    }
    // Pooled covariates are other terms' data, which the exact key covers already.
    f.flag("pooled", sm.pooled.is_some());
    // Which columns a nested term drops depends on the data (the exact key); which
    // terms it is checked against is the model.
    match &sm.side {
        Some(side) => {
            f.list("side", side.lower.len());
            for j in &side.lower {
                f.u64("side term", *j as u64);
            }
            f.flag("side constant", side.constant);
            // Absent when empty, so that other models' keys are unchanged.
            if !side.delete.is_empty() {
                f.f64s("side deleted", &side.delete.iter().map(|&j| j as f64).collect::<Vec<_>>());
            }
        }
        None => f.flag("no side", true),
    }
    f.flag("fixed", sm.fixed);
    f.flag("built by mgcv", sm.given.is_some());
    f.opt_f64s("point", sm.point.as_deref());
    f.list("term sp", sm.sp.len());
    for sp in &sm.sp {
        f.opt_f64s("term sp", sp.as_ref().map(std::slice::from_ref));
    }
    f.list("margins", sm.margins.len());
    for margin in &sm.margins {
        f.str("margin bs", margin.class.name);
        f.opt_f64s("margin k", margin.k.map(|k| k as f64).as_ref().map(std::slice::from_ref));
        f.u64("margin dim", margin.dim as u64);
        if margin.knots_sampled {
            f.flag("margin knots sampled", true);
        } else {
            f.opt_f64s("margin knots", margin.knots.as_deref());
        }
        f.list("margin m", margin.m.len());
        for m in &margin.m {
            f.u64("margin m", *m as u64);
        }
        // Absent without them, so that other margins' keys are unchanged.
        if !margin.parameters.is_empty() {
            f.f64s("margin class parameters", &margin.parameters);
        }
        if let Some(s) = &margin.penalty {
            f.u64("margin penalty rows", s.nrows() as u64);
            f.f64s("margin penalty", s.as_slice_memory_order().expect("contiguous"));
        }
    }
}

/// The data: response, weights, offset, parametric columns, covariates and `by`
/// values (the row count is implied by their lengths).
fn absorb_data(f: &mut Fingerprinter, spec: &ModelSpec<'_>) {
    let n = spec.xp.nrows();
    let xp_columns: Vec<std::borrow::Cow<'_, [f64]>> = match spec.xp.as_slice_memory_order() {
        // Column-major, as R holds it: the columns are consecutive runs.
        Some(data) if n > 0 && spec.xp.t().is_standard_layout() => {
            data.chunks_exact(n).map(std::borrow::Cow::Borrowed).collect()
        }
        _ => spec.xp.columns().into_iter().map(|c| c.to_vec().into()).collect(),
    };
    // Every data column, in a fixed order, with its tag (`None`: an absent `by`).
    let mut columns: Vec<(&str, Option<&[f64]>)> =
        vec![("y", Some(&spec.y)), ("weights", Some(&spec.weights)), ("offset", Some(&spec.offset))];
    // A censored response's bounds are data too (only a family that reads them has them).
    if let Some(censor) = spec.censor.as_deref() {
        columns.push(("censor", Some(censor)));
    }
    columns.extend(xp_columns.iter().map(|c| ("column", Some(&c[..]))));
    for sm in &spec.smooths {
        columns.extend(sm.vars.iter().map(|v| ("covariate", Some(&v[..]))));
        columns.push(("by", sm.by.as_deref()));
        // A term built by mgcv: its model matrix is its data (its covariate is the
        // row number), and its penalties depend on the data too.
        if let Some(given) = &sm.given {
            if let Some(x) = given.x.as_slice_memory_order() {
                columns.push(("given matrix", Some(x)));
            }
            for s in &given.penalties {
                columns.push(("given penalty", s.as_slice_memory_order()));
            }
        }
    }
    let digests = column_digests(&columns, spec.threads);
    f.u64("parametric columns", spec.xp.ncols() as u64);
    let mut digests = digests.iter();
    for (tag, column) in &columns {
        match column {
            Some(values) => f.digested(tag, values.len(), digests.next().expect("one digest per column")),
            None => f.opt_f64s(tag, None),
        }
    }
    for sm in &spec.smooths {
        // Knots drawn as `knots_sample` says are determined by it and the covariates
        // (hashed above). It is data as the knots are (the random number generator's
        // kind differs in `gam_cv()`'s workers, whose folds are seeded by the
        // full-data fit all the same).
        if let Some(sample) = sm.knots_sample.as_deref().filter(|_| sm.knots_sampled) {
            f.f64s("knots sample", sample);
        }
        let own = sm.knots_sampled && sm.knots_sample.is_none();
        let margins = sm.margins.iter().map(|m| (m.knots_sampled, &m.knots));
        for (_, knots) in std::iter::once((own, &sm.knots)).chain(margins).filter(|(s, _)| *s) {
            f.opt_f64s("sampled knots", knots.as_deref());
        }
    }
}

/// The fingerprint of data columns as a fit's exact key takes them (each column's
/// digest, spread over `threads`): what hashing the data costs, for the exact-hit
/// benchmark's reference.
pub fn columns_fingerprint(columns: &[&[f64]], threads: usize) -> Fingerprint {
    let tagged: Vec<(&str, Option<&[f64]>)> = columns.iter().map(|c| ("column", Some(*c))).collect();
    let mut f = Fingerprinter::new("warmgam data columns");
    for ((tag, column), digest) in tagged.iter().zip(column_digests(&tagged, threads)) {
        f.digested(tag, column.map_or(0, |c| c.len()), &digest);
    }
    f.finish()
}

/// The blake3 digest of each present column's canonical bytes, spread over `threads`:
/// hashing the data is most of what an exact hit costs.
fn column_digests(columns: &[(&str, Option<&[f64]>)], threads: usize) -> Vec<[u8; 32]> {
    let present: Vec<&[f64]> = columns.iter().filter_map(|(_, c)| *c).collect();
    let digest = |values: &[f64]| {
        // A constant column (unit weights, a zero offset, the intercept) is described
        // rather than hashed; it is a function of the content all the same.
        let f = match constant_value(values) {
            Some(v) => {
                let mut f = Fingerprinter::new("constant column");
                f.f64("value", v);
                f.u64("length", values.len() as u64);
                f
            }
            None => {
                let mut f = Fingerprinter::new("column");
                f.f64s("values", values);
                f
            }
        };
        f.finish().0
    };
    let total: usize = present.iter().map(|c| c.len()).sum();
    // Below this, a thread costs more than it saves.
    const VALUES_PER_THREAD: usize = 100_000;
    let threads = threads.clamp(1, (total / VALUES_PER_THREAD).max(1));
    if threads == 1 {
        return present.iter().map(|c| digest(c)).collect();
    }
    let mut out = vec![[0u8; 32]; present.len()];
    std::thread::scope(|scope| {
        // Column t goes to thread t % threads; each thread fills its own slots.
        let mut slots: Vec<Vec<(usize, &mut [u8; 32])>> = (0..threads).map(|_| Vec::new()).collect();
        for (i, slot) in out.iter_mut().enumerate() {
            slots[i % threads].push((i, slot));
        }
        for mine in slots {
            let present = &present;
            scope.spawn(move || {
                for (i, slot) in mine {
                    *slot = digest(present[i]);
                }
            });
        }
    });
    out
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
        assert_ne!(
            digest(|f| f.f64s("v", &[1.0, 2.0])),
            digest(|f| {
                f.f64s("v", &[1.0]);
                f.f64s("v", &[2.0]);
            })
        );
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

    fn spec(n: usize) -> ModelSpec<'static> {
        use ndarray::{Array2, ShapeBuilder};
        use std::borrow::Cow;
        let x: Vec<f64> = (0..n).map(|i| i as f64 / n as f64).collect();
        let smooth = SmoothSpec {
            by: Some(Cow::Owned(vec![2.0; n])),
            ..SmoothSpec::for_tests("s(x)", "cr", 8, vec![x.clone()])
        };
        let xp = Array2::from_shape_fn((n, 2).f(), |(i, j)| if j == 0 { 1.0 } else { (i % 3) as f64 });
        ModelSpec::for_tests(x.iter().map(|v| v.sin()).collect(), xp, vec![smooth])
    }

    #[test]
    #[allow(clippy::type_complexity)] // a table of cases
    fn every_data_value_is_in_the_exact_key_only() {
        let id = ModelIdentity {
            formula: "y ~ s(x)".into(),
            family: "gaussian".into(),
            link: "identity".into(),
            parametric_names: vec!["(Intercept)".into(), "g".into()],
        };
        // Large enough for the columns to be hashed on several threads.
        let n = 120_000;
        let base = model_keys(&spec(n), &id);
        assert_eq!(base.exact, model_keys(&spec(n), &id).exact);
        let mut single_threaded = spec(n);
        single_threaded.threads = 1;
        assert_eq!(base.exact, model_keys(&single_threaded, &id).exact, "threads must not change the key");
        let changes: Vec<(&str, Box<dyn Fn(&mut ModelSpec<'static>)>)> = vec![
            ("y", Box::new(|s| s.y.to_mut()[5] += 1e-12)),
            ("weights", Box::new(|s| s.weights.to_mut()[n - 1] = 2.0)),
            ("offset", Box::new(|s| s.offset.to_mut()[0] = 0.5)),
            (
                "xp",
                Box::new(|s| {
                    let mut xp = s.xp.to_owned();
                    xp[(3, 1)] += 1.0;
                    s.xp = ndarray::CowArray::from(xp);
                }),
            ),
            ("censor", Box::new(|s| s.censor = Some(std::borrow::Cow::Owned(s.y.to_vec())))),
            ("covariate", Box::new(|s| s.smooths[0].vars[0].to_mut()[7] += 1e-9)),
            ("by", Box::new(|s| s.smooths[0].by.as_mut().unwrap().to_mut()[9] = 3.0)),
            (
                "rows",
                Box::new(|s| {
                    s.y.to_mut().pop();
                    s.weights.to_mut().pop();
                }),
            ),
        ];
        for (what, change) in changes {
            let mut changed = spec(n);
            change(&mut changed);
            let keys = model_keys(&changed, &id);
            assert_ne!(keys.exact, base.exact, "{what} is not in the exact key");
            assert_eq!(keys.model, base.model, "{what} is in the model key");
        }
        let mut other_k = spec(n);
        other_k.smooths[0].k = Some(9);
        assert_ne!(model_keys(&other_k, &id).model, base.model);
        let mut other_gamma = spec(n);
        other_gamma.gamma = 1.4;
        assert_ne!(model_keys(&other_gamma, &id).model, base.model);
        let mut floored = spec(n);
        floored.min_sp = vec![0.5; 2];
        assert_ne!(model_keys(&floored, &id).model, base.model);
        let mut known = spec(n);
        known.family.given_scale = Some(2.0);
        assert_ne!(model_keys(&known, &id).model, base.model);
        let other_formula = ModelIdentity { formula: "y ~ s(x) + g".into(), ..id.clone() };
        assert_ne!(model_keys(&spec(n), &other_formula).model, base.model);
    }

    /// Knots drawn from the data (a thin plate spline's subsample) are data: fits to
    /// other rows share the model key (and seed each other), not the exact key. Given
    /// knots are part of the model.
    #[test]
    fn sampled_knots_are_data_given_knots_are_model() {
        let id = ModelIdentity { formula: "y ~ s(x)".into(), ..ModelIdentity::default() };
        let with_knots = |knots: Vec<f64>, sampled: bool| {
            let mut s = spec(500);
            s.smooths[0].knots = Some(knots);
            s.smooths[0].knots_sampled = sampled;
            model_keys(&s, &id)
        };
        let (a, b) = (vec![0.1, 0.5, 0.9], vec![0.2, 0.5, 0.9]);
        let (sampled_a, sampled_b) = (with_knots(a.clone(), true), with_knots(b.clone(), true));
        assert_eq!(sampled_a.model, sampled_b.model);
        assert_ne!(sampled_a.exact, sampled_b.exact);
        let (given_a, given_b) = (with_knots(a, false), with_knots(b, false));
        assert_ne!(given_a.model, given_b.model);
        assert_ne!(given_a.model, sampled_a.model);
    }

    #[test]
    fn constant_columns_are_recognized() {
        assert_eq!(constant_value(&[1.0; 20_000]), Some(1.0));
        assert_eq!(constant_value(&[-0.0, 0.0]), Some(0.0));
        let mut almost = vec![1.0; 20_000];
        almost[19_999] = 1.0 + f64::EPSILON;
        assert_eq!(constant_value(&almost), None);
        assert_eq!(constant_value(&[]), None);
    }

    /// Issue 15.6: keys hashed the crate's version (0.4.0) while the package was 0.5.1.
    #[test]
    fn engine_version_is_the_packages() {
        let description = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../DESCRIPTION")).unwrap();
        let version = description.lines().find_map(|l| l.strip_prefix("Version:")).unwrap().trim();
        assert_eq!(ENGINE_VERSION, version);
        assert_eq!(env!("CARGO_PKG_VERSION"), version, "src/rust/Cargo.toml's version differs from DESCRIPTION's");
    }

    #[test]
    fn hex_parsing_rejects_paths() {
        assert!(Fingerprint::from_hex("../etc").is_none());
        assert!(Fingerprint::from_hex(&"A".repeat(64)).is_none());
        assert!(Fingerprint::from_hex(&"a".repeat(63)).is_none());
        assert!(Fingerprint::from_hex(&"0".repeat(64)).is_some());
    }
}
