//! Truncated multivariate Taylor arithmetic: a function of up to `MAX_VARS`
//! variables held as its Taylor coefficients at a point up to total degree `order`
//! (at most 4), carried through sums, products and compositions with elementary
//! functions (forward-mode differentiation; Griewank & Walther 2008, *Evaluating
//! Derivatives*, ch. 13). A general family writes its log likelihood once in these
//! terms and gets every partial derivative to fourth order, which penalized Newton
//! and the Laplace-approximate REML of `fit::general` need, instead of deriving each
//! by hand (`jet` is the one-variable version).
//!
//! Coefficients are indexed by monomial (`Space::monomials`); a product is a sum over
//! the precomputed pairs of monomials whose degrees add up to at most `order`.

use std::sync::OnceLock;

use super::general::{Fourth, Jet, MAX_LP};

pub const MAX_VARS: usize = MAX_LP;
/// Monomials of degree at most 4 in 4 variables: C(8, 4).
const MAX_COEF: usize = 70;

/// The monomials of `k` variables up to degree `order`, and their products.
pub struct Space {
    k: usize,
    order: usize,
    /// Exponents of each monomial, by increasing degree (the constant first).
    monomials: Vec<[u8; MAX_VARS]>,
    /// `(i, j, l)`: monomial `i` times monomial `j` is monomial `l`.
    products: Vec<(u8, u8, u8)>,
    /// For `compose`'s powers of a jet without constant term: entry `r - 2` holds
    /// the products of `power` (degree at least `r - 1`) and `delta` (degree at
    /// least 1) that can be nonzero, in `products`' order (a power of degree `r`
    /// has no terms below degree `r`: the other products are exact zeros).
    power_products: Vec<Vec<(u8, u8, u8)>>,
    /// Where each degree's monomials start (`degree_start[d]..degree_start[d + 1]`).
    degree_start: Vec<usize>,
    /// Where each monomial's coefficient goes among the derivatives (`to_jet`,
    /// `to_fourth`).
    slots: Vec<Slot>,
}

/// A monomial's derivative: its coefficient times `factor` (the exponents'
/// factorials) is the mixed partial derivative at each of `orders`, every distinct
/// ordering of the variables differentiated (mixed partials are symmetric).
struct Slot {
    monomial: usize,
    degree: usize,
    factor: f64,
    orders: Vec<[usize; 4]>,
}

/// A truncated Taylor polynomial in a `Space` of at most `N` coefficients: a jet
/// is sized to its space (`JET_SIZES`), since copying and zeroing coefficients
/// a space does not have cost as much as the arithmetic (a scalar log likelihood
/// in a 70-coefficient array spent most of its time in memset and memmove).
#[derive(Clone, Copy)]
pub struct MJet<const N: usize = MAX_COEF> {
    c: [f64; N],
}

/// The jet sizes `Space::jet_size` chooses from: every space's number of
/// coefficients (C(k + order, order)) rounded up to one of these.
pub const JET_SIZES: [usize; 6] = [1, 5, 10, 15, 35, 70];

impl Space {
    fn new(k: usize, order: usize) -> Space {
        // Monomials by increasing degree, each degree's starting where the last's end.
        let mut monomials = Vec::new();
        let mut degree_start = vec![0];
        for degree in 0..=order {
            let mut e = [0u8; MAX_VARS];
            collect(&mut monomials, &mut e, 0, k, degree);
            degree_start.push(monomials.len());
        }
        let index = |e: &[u8; MAX_VARS]| monomials.iter().position(|m| m == e);
        let mut products = Vec::new();
        for (i, a) in monomials.iter().enumerate() {
            for (j, b) in monomials.iter().enumerate() {
                let sum: [u8; MAX_VARS] = std::array::from_fn(|v| a[v] + b[v]);
                if let Some(l) = index(&sum) {
                    products.push((i as u8, j as u8, l as u8));
                }
            }
        }
        let degree_of = |m: u8| degree(&monomials[m as usize]);
        let power_products = (2..=order)
            .map(|r| products.iter().copied().filter(|&(i, j, _)| degree_of(i) + 1 >= r && degree_of(j) >= 1).collect())
            .collect();
        let slots = monomials
            .iter()
            .enumerate()
            .skip(1)
            .map(|(m, e)| {
                let degree = degree(e);
                let idx = indices(e, k);
                let mut orders = Vec::new();
                permute(&idx[..degree], |p| {
                    let mut o = [0; 4];
                    o[..degree].copy_from_slice(p);
                    if !orders.contains(&o) {
                        orders.push(o);
                    }
                });
                Slot { monomial: m, degree, factor: multinomial_factorial(e), orders }
            })
            .collect();
        Space { k, order, monomials, products, power_products, degree_start, slots }
    }

    /// The space of `k` variables up to degree `order`, built once.
    pub fn get(k: usize, order: usize) -> &'static Space {
        static SPACES: OnceLock<Vec<Space>> = OnceLock::new();
        let spaces = SPACES
            .get_or_init(|| (1..=MAX_VARS).flat_map(|k| (0..=4).map(move |order| Space::new(k, order))).collect());
        &spaces[(k - 1) * 5 + order]
    }

    /// The number of coefficients.
    pub fn n_coefficients(&self) -> usize {
        self.monomials.len()
    }

    /// The smallest of `JET_SIZES` holding this space's coefficients.
    pub fn jet_size(&self) -> usize {
        JET_SIZES.into_iter().find(|&n| n >= self.n_coefficients()).unwrap_or(MAX_COEF)
    }

    /// The highest degree kept.
    pub fn order(&self) -> usize {
        self.order
    }

    pub fn constant<const N: usize>(&self, x: f64) -> MJet<N> {
        debug_assert!(self.n_coefficients() <= N, "a jet smaller than its space");
        let mut c = [0.0; N];
        c[0] = x;
        MJet { c }
    }

    /// Variable `v` at value `x`.
    pub fn var<const N: usize>(&self, v: usize, x: f64) -> MJet<N> {
        let mut out = self.constant(x);
        if self.order > 0 {
            out.c[1 + v] = 1.0;
        }
        out
    }

    /// Where each coefficient of a polynomial of `from`'s variables goes as one of
    /// this space's, `from`'s variable `v` being this space's `vars[v]`: pairs of
    /// indices for `embed` (a family whose log likelihood is a sum of products of
    /// parts in fewer variables computes them in the smaller spaces, where products
    /// are cheaper).
    pub fn embedding(&self, from: &Space, vars: &[usize]) -> Vec<(u8, u8)> {
        let mut out = Vec::new();
        for (m, e) in from.monomials.iter().enumerate() {
            let mut f = [0u8; MAX_VARS];
            for (v, &to) in vars.iter().enumerate().take(from.k) {
                f[to] = e[v];
            }
            if let Some(l) = self.monomials.iter().position(|x| *x == f) {
                out.push((m as u8, l as u8));
            }
        }
        out
    }

    /// `a` carried over by an `embedding`.
    pub fn embed<const N: usize>(&self, embedding: &[(u8, u8)], a: &MJet<N>) -> MJet<N> {
        let mut out = self.constant(0.0);
        for &(m, l) in embedding {
            out.c[l as usize] = a.c[m as usize];
        }
        out
    }

    pub fn add<const N: usize>(&self, a: &MJet<N>, b: &MJet<N>) -> MJet<N> {
        MJet { c: std::array::from_fn(|i| a.c[i] + b.c[i]) }
    }

    pub fn sub<const N: usize>(&self, a: &MJet<N>, b: &MJet<N>) -> MJet<N> {
        MJet { c: std::array::from_fn(|i| a.c[i] - b.c[i]) }
    }

    pub fn scale<const N: usize>(&self, a: &MJet<N>, s: f64) -> MJet<N> {
        MJet { c: a.c.map(|v| v * s) }
    }

    pub fn shift<const N: usize>(&self, a: &MJet<N>, s: f64) -> MJet<N> {
        let mut out = *a;
        out.c[0] += s;
        out
    }

    pub fn mul<const N: usize>(&self, a: &MJet<N>, b: &MJet<N>) -> MJet<N> {
        let mut c = [0.0; N];
        for &(i, j, l) in &self.products {
            c[l as usize] += a.c[i as usize] * b.c[j as usize];
        }
        MJet { c }
    }

    /// `phi(a)` from `phi` and its first four derivatives at `a`'s value: the Taylor
    /// series of `phi` in `a - a(0)`, whose powers have no constant term.
    pub fn compose<const N: usize>(&self, a: &MJet<N>, d: [f64; 5]) -> MJet<N> {
        let mut delta = *a;
        delta.c[0] = 0.0;
        let mut out = self.constant(d[0]);
        let mut power = delta;
        let mut factorial = 1.0;
        for r in 1..=self.order {
            factorial *= r as f64;
            // `power` is `delta^r`, whose terms are of degree `r` and above.
            let coefficient = d[r] / factorial;
            for l in self.degree_start[r]..self.degree_start[self.order + 1] {
                out.c[l] += power.c[l] * coefficient;
            }
            if r < self.order {
                let mut next = [0.0; N];
                for &(i, j, l) in &self.power_products[r - 1] {
                    next[l as usize] += power.c[i as usize] * delta.c[j as usize];
                }
                power.c = next;
            }
        }
        out
    }

    pub fn exp<const N: usize>(&self, a: &MJet<N>) -> MJet<N> {
        let e = a.value().exp();
        self.compose(a, [e; 5])
    }

    pub fn ln<const N: usize>(&self, a: &MJet<N>) -> MJet<N> {
        let u = a.value();
        let r = 1.0 / u;
        self.compose(a, [u.ln(), r, -r * r, 2.0 * r * r * r, -6.0 * r * r * r * r])
    }

    /// `log(1 + a)`, accurate where `a` is small.
    pub fn ln_1p<const N: usize>(&self, a: &MJet<N>) -> MJet<N> {
        let u = a.value();
        let r = 1.0 / (1.0 + u);
        self.compose(a, [u.ln_1p(), r, -r * r, 2.0 * r * r * r, -6.0 * r * r * r * r])
    }

    pub fn recip<const N: usize>(&self, a: &MJet<N>) -> MJet<N> {
        let r = 1.0 / a.value();
        let r2 = r * r;
        self.compose(a, [r, -r2, 2.0 * r2 * r, -6.0 * r2 * r2, 24.0 * r2 * r2 * r])
    }

    pub fn sinh<const N: usize>(&self, a: &MJet<N>) -> MJet<N> {
        let (sh, ch) = (a.value().sinh(), a.value().cosh());
        self.compose(a, [sh, ch, sh, ch, sh])
    }

    pub fn cosh<const N: usize>(&self, a: &MJet<N>) -> MJet<N> {
        let (sh, ch) = (a.value().sinh(), a.value().cosh());
        self.compose(a, [ch, sh, ch, sh, ch])
    }

    /// `asinh(a)`: its derivatives are `r = (1 + x^2)^-1/2`, `-x r^3`,
    /// `(2x^2 - 1) r^5` and `(9x - 6x^3) r^7`.
    pub fn asinh<const N: usize>(&self, a: &MJet<N>) -> MJet<N> {
        let x = a.value();
        let r = 1.0 / (1.0 + x * x).sqrt();
        let (r3, r5, r7) = (r * r * r, r.powi(5), r.powi(7));
        self.compose(a, [x.asinh(), r, -x * r3, (2.0 * x * x - 1.0) * r5, (9.0 * x - 6.0 * x * x * x) * r7])
    }

    pub fn lgamma<const N: usize>(&self, a: &MJet<N>) -> MJet<N> {
        let u = a.value();
        let [p0, p1, p2, p3, _] = super::special::polygammas(u);
        self.compose(a, [super::special::lgamma(u), p0, p1, p2, p3])
    }

    /// The jet of `l`'s derivatives (to this space's order, at most 3) in the
    /// variables.
    pub fn to_jet<const N: usize>(&self, l: &MJet<N>) -> Jet {
        let mut jet = Jet::zero();
        jet.l = l.value();
        for slot in self.slots.iter().take_while(|s| s.degree <= 3) {
            let value = l.c[slot.monomial] * slot.factor;
            for o in &slot.orders {
                match slot.degree {
                    1 => jet.d1[o[0]] = value,
                    2 => jet.d2[o[0]][o[1]] = value,
                    _ => jet.d3[o[0]][o[1]][o[2]] = value,
                }
            }
        }
        jet
    }

    /// `l`'s fourth derivatives (the space must have order 4).
    pub fn to_fourth<const N: usize>(&self, l: &MJet<N>) -> Fourth {
        let mut out = [[[[0.0; MAX_LP]; MAX_LP]; MAX_LP]; MAX_LP];
        for slot in self.slots.iter().filter(|s| s.degree == 4) {
            let value = l.c[slot.monomial] * slot.factor;
            for o in &slot.orders {
                out[o[0]][o[1]][o[2]][o[3]] = value;
            }
        }
        out
    }
}

impl<const N: usize> MJet<N> {
    pub fn value(&self) -> f64 {
        self.c[0]
    }
}

/// Appends every exponent vector of `k` variables with total `degree`, the first
/// variables' exponents largest first.
fn collect(out: &mut Vec<[u8; MAX_VARS]>, e: &mut [u8; MAX_VARS], v: usize, k: usize, degree: usize) {
    if v + 1 == k {
        e[v] = degree as u8;
        out.push(*e);
        e[v] = 0;
        return;
    }
    for d in (0..=degree).rev() {
        e[v] = d as u8;
        collect(out, e, v + 1, k, degree - d);
    }
    e[v] = 0;
}

/// A monomial's total degree.
fn degree(e: &[u8; MAX_VARS]) -> usize {
    e.iter().map(|&n| n as usize).sum()
}

/// `prod_v e_v!`: the partial derivative is this times the Taylor coefficient.
fn multinomial_factorial(e: &[u8; MAX_VARS]) -> f64 {
    e.iter().map(|&n| (1..=n as u32).product::<u32>() as f64).product()
}

/// The variables differentiated, with repeats, in order (`[2, 1, 0, 0]` is `[0, 0, 1]`).
fn indices(e: &[u8; MAX_VARS], k: usize) -> [usize; 4] {
    let mut out = [0; 4];
    let mut at = 0;
    for (v, &n) in e.iter().enumerate().take(k) {
        for _ in 0..n {
            out[at] = v;
            at += 1;
        }
    }
    out
}

/// Calls `f` with every ordering of `idx` (repeats included; mixed partials are
/// symmetric).
fn permute(idx: &[usize], mut f: impl FnMut(&[usize])) {
    fn go(rest: &mut Vec<usize>, chosen: &mut Vec<usize>, f: &mut dyn FnMut(&[usize])) {
        if rest.is_empty() {
            f(chosen);
            return;
        }
        for i in 0..rest.len() {
            let v = rest.remove(i);
            chosen.push(v);
            go(rest, chosen, f);
            chosen.pop();
            rest.insert(i, v);
        }
    }
    go(&mut idx.to_vec(), &mut Vec::with_capacity(idx.len()), &mut f);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `f(x, y, z) = exp(x y) ln(z) + lgamma(x + z)` in jets of `N` coefficients.
    fn f<const N: usize>(s: &Space, x: f64, y: f64, z: f64) -> MJet<N> {
        let (a, b, c) = (s.var(0, x), s.var(1, y), s.var(2, z));
        let e = s.exp(&s.mul(&a, &b));
        s.add(&s.mul(&e, &s.ln(&c)), &s.lgamma(&s.add(&a, &c)))
    }

    /// `f`'s derivatives against their values by hand.
    #[test]
    fn derivatives_of_a_composition() {
        let (x, y, z) = (0.7, -0.4, 1.9);
        let f = |s: &Space| f::<MAX_COEF>(s, x, y, z);
        let s3 = Space::get(3, 3);
        let jet = s3.to_jet(&f(s3));
        let e = (x * y).exp();
        let [p0, p1, p2, p3, _] = crate::family::special::polygammas(x + z);
        assert!((jet.l - (e * z.ln() + crate::family::special::lgamma(x + z))).abs() < 1e-14);
        assert!((jet.d1[0] - (y * e * z.ln() + p0)).abs() < 1e-13);
        assert!((jet.d1[2] - (e / z + p0)).abs() < 1e-13);
        assert!((jet.d2[0][1] - ((1.0 + x * y) * e * z.ln())).abs() < 1e-13);
        assert!((jet.d2[1][0] - jet.d2[0][1]).abs() < 1e-15);
        assert!((jet.d2[0][2] - (y * e / z + p1)).abs() < 1e-13);
        assert!((jet.d3[0][0][2] - (y * y * e / z + p2)).abs() < 1e-12);
        assert!((jet.d3[2][0][0] - jet.d3[0][0][2]).abs() < 1e-15);
        assert!((jet.d3[0][1][2] - ((1.0 + x * y) * e / z)).abs() < 1e-12);
        let s4 = Space::get(3, 4);
        let fourth = s4.to_fourth(&f(s4));
        assert!((fourth[0][0][0][2] - (y.powi(3) * e / z + p3)).abs() < 1e-11);
        assert!((fourth[2][2][0][1] + (1.0 + x * y) * e / (z * z)).abs() < 1e-11);
        assert!((fourth[0][2][1][2] - fourth[2][2][0][1]).abs() < 1e-15);
        assert_eq!(Space::get(4, 4).n_coefficients(), MAX_COEF);
    }

    /// A jet sized to its space (or any size above) holds the same coefficients as
    /// the largest: the arithmetic never reaches past the space's own.
    #[test]
    fn jet_size_does_not_change_coefficients() {
        let (x, y, z) = (0.7, -0.4, 1.9);
        for order in 0..=4 {
            let s = Space::get(3, order);
            let full = f::<MAX_COEF>(s, x, y, z);
            let sized = f::<35>(s, x, y, z);
            assert!(s.n_coefficients() <= s.jet_size());
            assert_eq!(&full.c[..35], &sized.c[..], "order {order}");
            assert!(full.c[s.n_coefficients()..].iter().all(|&v| v == 0.0));
        }
        assert_eq!(
            f::<1>(Space::get(3, 0), x, y, z).value().to_bits(),
            f::<70>(Space::get(3, 0), x, y, z).value().to_bits()
        );
        let sizes: Vec<usize> =
            (1..=MAX_VARS).flat_map(|k| (0..=4).map(move |o| Space::get(k, o).jet_size())).collect();
        assert!(sizes.iter().all(|n| JET_SIZES.contains(n)));
    }
}
