//! The forward passes' matrix products: two small f32 kernels with bias and ReLU fused.
//!
//! - [`conv_gemm`]: `c = relu?(bias_row + a . b)` with `a` the convolution weight `[out, in*kh*kw]` and
//!   `b` the im2col matrix `[in*kh*kw, ho*wo]`: tiles of 6 output channels x 16 positions, the weight
//!   broadcast, the im2col rows read in place (only the last, partial column block is copied).
//! - [`linear_gemm`]: `y = relu?(x . w^T + bias)` with `x` `[n, in]` and the weight `[out, in]` as
//!   PyTorch stores it: dot products over 8 lanes, tiles of 3 samples x 4 outputs, no transposition.
//!
//! Neither packs its operands, so a call costs its multiply-adds and little else, which is what the
//! small products of a LeNet-sized network need (one image's conv1 is `[6 x 9] . [9 x 784]`). Every
//! output element is computed by one fixed sequence of fused multiply-adds that depends only on the
//! shapes (not on the tile an element falls in, the batch or the thread), and the two code paths, AVX2
//! with FMA (detected at run time) and portable `f32::mul_add`, run the same sequence: the results are
//! bit-identical on every machine (without FMA hardware the portable path is slow but still exact).

/// Positions per tile of [`conv_gemm`]: two 8-lane vectors.
const CONV_COLS: usize = 16;
/// Output channels per tile of [`conv_gemm`].
const CONV_ROWS: usize = 6;
/// Lanes of [`linear_gemm`]'s partial sums.
const LANES: usize = 8;
/// Samples per tile of [`linear_gemm`].
const LIN_ROWS: usize = 3;
/// Outputs per tile of [`linear_gemm`].
const LIN_COLS: usize = 4;

/// The operands of a product with bias and ReLU: `a` (`rows x terms`, row-major), `b` (see each
/// kernel for its layout), a bias per row ([`conv_gemm`]) or per column ([`linear_gemm`]), and
/// whether a ReLU follows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Product<'a> {
    /// Rows of the output.
    pub rows: usize,
    /// Terms of each sum.
    pub terms: usize,
    /// Columns of the output.
    pub cols: usize,
    /// The left operand, `rows x terms`.
    pub a: &'a [f32],
    /// The right operand.
    pub b: &'a [f32],
    /// The bias, if any.
    pub bias: Option<&'a [f32]>,
    /// Whether a ReLU follows.
    pub relu: bool,
}

/// Whether this machine runs the AVX2 + FMA path.
#[cfg(target_arch = "x86_64")]
fn has_avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

/// `max(v, 0)` as `vmaxps(v, 0)` computes it (0 for NaN and for -0).
#[inline(always)]
fn relu(v: f32) -> f32 {
    if v > 0.0 { v } else { 0.0 }
}

/// `c[i, j] = relu?(bias[i] + sum_t a[i, t] b[t, j])` for `i < rows`, `j < cols`, all row-major: `a`
/// is `rows x terms`, `b` is `terms x cols`, `c` is `rows x cols` (overwritten). The sum runs over `t`
/// in order, one fused multiply-add per term, starting from the bias (0 without one).
///
/// # Panics
/// If a slice is shorter than its shape or `bias` does not have `rows` values.
pub(crate) fn conv_gemm(p: &Product<'_>, c: &mut [f32]) {
    let Product {
        rows: m,
        terms: k,
        cols: n,
        a,
        b,
        bias,
        ..
    } = *p;
    assert!(
        a.len() >= m * k && b.len() >= k * n && c.len() >= m * n,
        "conv_gemm shapes"
    );
    assert!(bias.is_none_or(|b| b.len() == m), "one bias per row");
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: AVX2 and FMA are present; the shapes were checked above.
        unsafe { conv_gemm_avx2(p, c) };
        return;
    }
    conv_gemm_portable(p, c);
}

/// Column block `j0` of `b` (`k x n`) with its row stride: in place when it has 16 columns, else
/// copied into `tail` with zeros after its `valid` columns.
fn conv_block<'a>(
    b: &'a [f32],
    k: usize,
    n: usize,
    j0: usize,
    valid: usize,
    tail: &'a mut Vec<f32>,
) -> (&'a [f32], usize) {
    if valid == CONV_COLS {
        return (&b[j0..], n);
    }
    tail.clear();
    tail.resize(k * CONV_COLS, 0.0);
    for (dst, src) in tail.chunks_exact_mut(CONV_COLS).zip(b.chunks(n)) {
        dst[..valid].copy_from_slice(&src[j0..j0 + valid]);
    }
    (tail, CONV_COLS)
}

/// One tile of a [`conv_gemm`]: `rows` rows of `a` against a 16-column block of `b`.
struct ConvTile<'a> {
    /// Terms per sum.
    k: usize,
    /// Rows of the tile (at most 6).
    rows: usize,
    /// Columns written (the rest of the 16 are padding).
    valid: usize,
    /// The tile's rows of `a` (row stride `k`).
    a: &'a [f32],
    /// The column block of `b` (row stride `stride`, 16 readable values per row).
    block: &'a [f32],
    stride: usize,
    /// The tile's biases, one per row.
    bias: Option<&'a [f32]>,
    /// Row stride of `c`.
    n: usize,
    relu: bool,
}

/// Calls `tile(t, c)` for every tile of [`conv_gemm`], column blocks outer and row tiles inner,
/// with `c` the output from the tile's first element on; checks that each tile is inside the operands.
#[inline(always)]
fn for_each_conv_tile(p: &Product<'_>, c: &mut [f32], mut tile: impl FnMut(&ConvTile<'_>, &mut [f32])) {
    let Product {
        rows: m,
        terms: k,
        cols: n,
        a,
        b,
        bias,
        relu,
    } = *p;
    let mut tail = Vec::new();
    for j0 in (0..n).step_by(CONV_COLS) {
        let valid = CONV_COLS.min(n - j0);
        let (block, stride) = conv_block(b, k, n, j0, valid, &mut tail);
        for i0 in (0..m).step_by(CONV_ROWS) {
            let rows = CONV_ROWS.min(m - i0);
            let t = ConvTile {
                k,
                rows,
                valid,
                a: &a[i0 * k..(i0 + rows) * k],
                block,
                stride,
                bias: bias.map(|b| &b[i0..i0 + rows]),
                n,
                relu,
            };
            assert!(
                k == 0 || block.len() >= (k - 1) * stride + CONV_COLS,
                "b holds the tile's block"
            );
            let c = &mut c[i0 * n + j0..];
            assert!(c.len() >= (rows - 1) * n + valid, "c holds the tile");
            tile(&t, c);
        }
    }
}

/// [`conv_gemm`] in portable code: the same fused multiply-adds in the same order as the AVX2 path.
fn conv_gemm_portable(p: &Product<'_>, c: &mut [f32]) {
    let (k, n, relu) = (p.terms, p.cols, p.relu);
    for_each_conv_tile(p, c, |t, c| {
        let mut acc = [[0.0f32; CONV_COLS]; CONV_ROWS];
        for (i, row) in acc.iter_mut().enumerate().take(t.rows) {
            row.fill(t.bias.map_or(0.0, |b| b[i]));
        }
        for kk in 0..k {
            let brow = &t.block[kk * t.stride..kk * t.stride + CONV_COLS];
            for (i, row) in acc.iter_mut().enumerate().take(t.rows) {
                let av = t.a[i * k + kk];
                for (s, &bv) in row.iter_mut().zip(brow) {
                    *s = av.mul_add(bv, *s);
                }
            }
        }
        for (i, row) in acc.iter().enumerate().take(t.rows) {
            for (d, &v) in c[i * n..i * n + t.valid].iter_mut().zip(row) {
                *d = if relu { self::relu(v) } else { v };
            }
        }
    });
}

/// [`conv_gemm`] with AVX2: tiles of up to 6 rows x 16 columns in 12 accumulators.
///
/// # Safety
/// AVX2 and FMA must be available; the operands must have the shapes [`conv_gemm`] checks.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn conv_gemm_avx2(p: &Product<'_>, c: &mut [f32]) {
    for_each_conv_tile(p, c, |t, c| {
        // SAFETY: for_each_conv_tile bounds every access of the tile.
        unsafe {
            match t.rows {
                1 => conv_tile_avx2::<1>(t, c),
                2 => conv_tile_avx2::<2>(t, c),
                3 => conv_tile_avx2::<3>(t, c),
                4 => conv_tile_avx2::<4>(t, c),
                5 => conv_tile_avx2::<5>(t, c),
                _ => conv_tile_avx2::<6>(t, c),
            }
        }
    });
}

/// One tile with `R` = `t.rows` rows, written into `c`.
///
/// # Safety
/// AVX2 and FMA must be available, and the operands as [`for_each_conv_tile`] checks them.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn conv_tile_avx2<const R: usize>(t: &ConvTile<'_>, c: &mut [f32]) {
    use std::arch::x86_64::{
        __m256, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_max_ps, _mm256_set1_ps, _mm256_setzero_ps,
        _mm256_storeu_ps,
    };
    // SAFETY: the caller guarantees the bounds of every pointer access below.
    unsafe {
        let (a, b, c) = (t.a.as_ptr(), t.block.as_ptr(), c.as_mut_ptr());
        let mut lo: [__m256; R] = [_mm256_setzero_ps(); R];
        let mut hi: [__m256; R] = [_mm256_setzero_ps(); R];
        if let Some(bias) = t.bias {
            for i in 0..R {
                lo[i] = _mm256_set1_ps(bias[i]);
                hi[i] = lo[i];
            }
        }
        for kk in 0..t.k {
            let bp = b.add(kk * t.stride);
            let (bl, bh) = (_mm256_loadu_ps(bp), _mm256_loadu_ps(bp.add(8)));
            for i in 0..R {
                let av = _mm256_set1_ps(*a.add(i * t.k + kk));
                lo[i] = _mm256_fmadd_ps(av, bl, lo[i]);
                hi[i] = _mm256_fmadd_ps(av, bh, hi[i]);
            }
        }
        if t.relu {
            for i in 0..R {
                lo[i] = _mm256_max_ps(lo[i], _mm256_setzero_ps());
                hi[i] = _mm256_max_ps(hi[i], _mm256_setzero_ps());
            }
        }
        for i in 0..R {
            let dst = c.add(i * t.n);
            if t.valid == CONV_COLS {
                _mm256_storeu_ps(dst, lo[i]);
                _mm256_storeu_ps(dst.add(8), hi[i]);
            } else {
                let mut row = [0.0f32; CONV_COLS];
                _mm256_storeu_ps(row.as_mut_ptr(), lo[i]);
                _mm256_storeu_ps(row.as_mut_ptr().add(8), hi[i]);
                std::ptr::copy_nonoverlapping(row.as_ptr(), dst, t.valid);
            }
        }
    }
}

/// `y[s, o] = relu?(sum_i x[s, i] w[o, i] + bias[o])` for `s < rows` (samples), `o < cols` (outputs):
/// `a` is `x`, `rows x terms`; `b` is the weight `w`, `cols x terms` (PyTorch's layout); `y` is `rows x
/// cols` (overwritten). Each dot product keeps 8 partial sums (input `i` goes to lane `i mod 8`, in
/// order, by fused multiply-adds), adds them pairwise (lanes 0+4, 1+5, 2+6, 3+7, then (0+2)+(1+3)),
/// then the `terms mod 8` last terms by fused multiply-adds, then the bias.
///
/// # Panics
/// If a slice is shorter than its shape or `bias` does not have `cols` values.
pub(crate) fn linear_gemm(p: &Product<'_>, y: &mut [f32]) {
    let Product {
        rows: samples,
        terms: inputs,
        cols: outputs,
        a: x,
        b: w,
        bias,
        relu,
    } = *p;
    assert!(
        x.len() >= samples * inputs && w.len() >= outputs * inputs && y.len() >= samples * outputs,
        "linear_gemm shapes"
    );
    assert!(bias.is_none_or(|b| b.len() == outputs), "one bias per output");
    let shape = LinearShape {
        inputs,
        outputs,
        relu,
    };
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: AVX2 and FMA are present; the shapes were checked above.
        unsafe { linear_gemm_avx2(&shape, samples, x, w, bias, y) };
        return;
    }
    linear_gemm_portable(&shape, samples, x, w, bias, y);
}

/// The sizes of a [`linear_gemm`].
struct LinearShape {
    inputs: usize,
    outputs: usize,
    relu: bool,
}

impl LinearShape {
    /// The inputs summed in 8 lanes (the rest are added one by one after the lanes).
    fn body(&self) -> usize {
        self.inputs / LANES * LANES
    }

    /// Output (`r`, `o`) from its 8 partial sums: the lanes added pairwise, the tail inputs, the bias.
    #[inline(always)]
    fn finish(&self, lanes: &[f32; LANES], xr: &[f32], wr: &[f32], bias: Option<f32>) -> f32 {
        let t = [
            lanes[0] + lanes[4],
            lanes[1] + lanes[5],
            lanes[2] + lanes[6],
            lanes[3] + lanes[7],
        ];
        let mut s = (t[0] + t[2]) + (t[1] + t[3]);
        for (&xv, &wv) in xr[self.body()..self.inputs]
            .iter()
            .zip(&wr[self.body()..self.inputs])
        {
            s = xv.mul_add(wv, s);
        }
        let v = bias.map_or(s, |b| s + b);
        if self.relu { relu(v) } else { v }
    }
}

/// One tile of a [`linear_gemm`]: `rows` samples against `cols` outputs.
struct LinearTile<'a> {
    rows: usize,
    cols: usize,
    /// The tile's rows of `x`.
    x: &'a [f32],
    /// The tile's rows of `w`.
    w: &'a [f32],
    /// The tile's biases, one per output.
    bias: Option<&'a [f32]>,
}

/// Calls `tile(t, y)` for every tile of [`linear_gemm`], samples outer and outputs inner, with `y`
/// the output from the tile's first element on; checks that each tile is inside the operands.
#[inline(always)]
fn for_each_linear_tile(
    sh: &LinearShape,
    samples: usize,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
    mut tile: impl FnMut(&LinearTile<'_>, &mut [f32]),
) {
    let (inputs, outputs) = (sh.inputs, sh.outputs);
    for s0 in (0..samples).step_by(LIN_ROWS) {
        let rows = LIN_ROWS.min(samples - s0);
        for o0 in (0..outputs).step_by(LIN_COLS) {
            let cols = LIN_COLS.min(outputs - o0);
            let t = LinearTile {
                rows,
                cols,
                x: &x[s0 * inputs..(s0 + rows) * inputs],
                w: &w[o0 * inputs..(o0 + cols) * inputs],
                bias: bias.map(|b| &b[o0..o0 + cols]),
            };
            let ys = &mut y[s0 * outputs + o0..];
            assert!(ys.len() >= (rows - 1) * outputs + cols, "y holds the tile");
            tile(&t, ys);
        }
    }
}

/// [`linear_gemm`] in portable code: the same operations in the same order as the AVX2 path.
fn linear_gemm_portable(
    sh: &LinearShape,
    samples: usize,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
) {
    let inputs = sh.inputs;
    for_each_linear_tile(sh, samples, x, w, bias, y, |t, ys| {
        let mut lanes = [[[0.0f32; LANES]; LIN_COLS]; LIN_ROWS];
        for i0 in (0..sh.body()).step_by(LANES) {
            for (r, row) in lanes.iter_mut().enumerate().take(t.rows) {
                let xv = &t.x[r * inputs + i0..r * inputs + i0 + LANES];
                for (c, acc) in row.iter_mut().enumerate().take(t.cols) {
                    let wv = &t.w[c * inputs + i0..c * inputs + i0 + LANES];
                    for ((s, &a), &b) in acc.iter_mut().zip(xv).zip(wv) {
                        *s = a.mul_add(b, *s);
                    }
                }
            }
        }
        for (r, row) in lanes.iter().enumerate().take(t.rows) {
            for (c, l) in row.iter().enumerate().take(t.cols) {
                let (xr, wr) = (&t.x[r * inputs..], &t.w[c * inputs..]);
                ys[r * sh.outputs + c] = sh.finish(l, xr, wr, t.bias.map(|b| b[c]));
            }
        }
    });
}

/// [`linear_gemm`] with AVX2: tiles of up to 3 samples x 4 outputs in 12 accumulators.
///
/// # Safety
/// AVX2 and FMA must be available; the operands must have the shapes [`linear_gemm`] checks.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn linear_gemm_avx2(
    sh: &LinearShape,
    samples: usize,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
) {
    for_each_linear_tile(sh, samples, x, w, bias, y, |t, ys| {
        // SAFETY: for_each_linear_tile bounds the tile's rows and outputs.
        unsafe {
            match (t.rows, t.cols) {
                (1, 1) => linear_tile_avx2::<1, 1>(sh, t, ys),
                (1, 2) => linear_tile_avx2::<1, 2>(sh, t, ys),
                (1, 3) => linear_tile_avx2::<1, 3>(sh, t, ys),
                (1, _) => linear_tile_avx2::<1, 4>(sh, t, ys),
                (2, 1) => linear_tile_avx2::<2, 1>(sh, t, ys),
                (2, 2) => linear_tile_avx2::<2, 2>(sh, t, ys),
                (2, 3) => linear_tile_avx2::<2, 3>(sh, t, ys),
                (2, _) => linear_tile_avx2::<2, 4>(sh, t, ys),
                (_, 1) => linear_tile_avx2::<3, 1>(sh, t, ys),
                (_, 2) => linear_tile_avx2::<3, 2>(sh, t, ys),
                (_, 3) => linear_tile_avx2::<3, 3>(sh, t, ys),
                _ => linear_tile_avx2::<3, 4>(sh, t, ys),
            }
        }
    });
}

/// One tile with `R` = `t.rows` samples and `C` = `t.cols` outputs, into `y` (row stride `outputs`).
///
/// # Safety
/// AVX2 and FMA must be available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(clippy::needless_range_loop)]
unsafe fn linear_tile_avx2<const R: usize, const C: usize>(
    sh: &LinearShape,
    t: &LinearTile<'_>,
    y: &mut [f32],
) {
    use std::arch::x86_64::{__m256, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_setzero_ps, _mm256_storeu_ps};
    let inputs = sh.inputs;
    assert!(
        t.x.len() >= R * inputs && t.w.len() >= C * inputs,
        "the tile's rows"
    );
    let mut lanes = [[[0.0f32; LANES]; C]; R];
    // SAFETY: the assert above bounds every pointer read below.
    unsafe {
        let (xp, wp) = (t.x.as_ptr(), t.w.as_ptr());
        let mut acc: [[__m256; C]; R] = [[_mm256_setzero_ps(); C]; R];
        for i0 in (0..sh.body()).step_by(LANES) {
            let mut xv: [__m256; R] = [_mm256_setzero_ps(); R];
            for (r, v) in xv.iter_mut().enumerate() {
                *v = _mm256_loadu_ps(xp.add(r * inputs + i0));
            }
            for c in 0..C {
                let wv = _mm256_loadu_ps(wp.add(c * inputs + i0));
                for r in 0..R {
                    acc[r][c] = _mm256_fmadd_ps(xv[r], wv, acc[r][c]);
                }
            }
        }
        for r in 0..R {
            for c in 0..C {
                _mm256_storeu_ps(lanes[r][c].as_mut_ptr(), acc[r][c]);
            }
        }
    }
    for (r, row) in lanes.iter().enumerate() {
        for (c, l) in row.iter().enumerate() {
            let (xr, wr) = (&t.x[r * inputs..], &t.w[c * inputs..]);
            y[r * sh.outputs + c] = sh.finish(l, xr, wr, t.bias.map(|b| b[c]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The operands of a `rows x terms x cols` product with a bias.
    fn product<'a>(
        rows: usize,
        terms: usize,
        cols: usize,
        a: &'a [f32],
        b: &'a [f32],
        bias: &'a [f32],
        relu: bool,
    ) -> Product<'a> {
        Product {
            rows,
            terms,
            cols,
            a,
            b,
            bias: Some(bias),
            relu,
        }
    }

    /// Values with varied magnitudes and signs, so that rounding differences would show.
    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| {
                let v = (i as u32)
                    .wrapping_mul(2_654_435_761)
                    .wrapping_add(seed.wrapping_mul(40_503));
                (v >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
            })
            .collect()
    }

    /// Both kernels against a plain f64 triple loop, for shapes with and without tails: `conv_gemm`
    /// as `m x k` times `k x n` with a bias per row, `linear_gemm` as `m` samples of `k` inputs to `n`
    /// outputs with a bias per output.
    #[test]
    fn kernels_match_the_definition() {
        let shapes = [
            (6, 9, 784),
            (16, 54, 196),
            (32, 784, 120),
            (5, 84, 10),
            (1, 1, 1),
            (7, 13, 17),
            (5, 0, 3),
            (13, 31, 33),
        ];
        for (m, k, n) in shapes {
            let (a, b, w) = (values(m * k, 1), values(k * n, 2), values(n * k, 3));
            let (row_bias, col_bias) = (values(m, 4), values(n, 5));
            for relu in [false, true] {
                let mut conv = vec![f32::NAN; m * n];
                conv_gemm(&product(m, k, n, &a, &b, &row_bias, relu), &mut conv);
                let mut linear = vec![f32::NAN; m * n];
                linear_gemm(&product(m, k, n, &a, &w, &col_bias, relu), &mut linear);
                for (idx, (&got_conv, &got_linear)) in conv.iter().zip(&linear).enumerate() {
                    let (i, j) = (idx / n, idx % n);
                    let dot = |other: &dyn Fn(usize) -> f32| -> f64 {
                        (0..k)
                            .map(|t| f64::from(a[i * k + t]) * f64::from(other(t)))
                            .sum()
                    };
                    let act = |v: f64| if relu { v.max(0.0) } else { v };
                    let want_conv = act(dot(&|t| b[t * n + j]) + f64::from(row_bias[i]));
                    let want_linear = act(dot(&|t| w[j * k + t]) + f64::from(col_bias[j]));
                    let tol = 1e-5 * (1.0 + k as f64);
                    assert!(
                        (f64::from(got_conv) - want_conv).abs() <= tol,
                        "conv {m}x{k}x{n} at {i},{j}"
                    );
                    assert!(
                        (f64::from(got_linear) - want_linear).abs() <= tol,
                        "linear {m}x{k}x{n} at {i},{j}"
                    );
                }
            }
        }
    }

    /// The AVX2 path and the portable path give the same bits (checked where AVX2 is present), on
    /// shapes with row, column and input tails.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn simd_and_portable_paths_agree_bit_for_bit() {
        if !has_avx2_fma() {
            return;
        }
        for (m, k, n) in [(6, 9, 784), (16, 54, 196), (13, 37, 45), (2, 3, 5)] {
            let (a, b, bias) = (values(m * k, 7), values(k * n, 8), values(m, 9));
            for relu in [false, true] {
                let (mut fast, mut slow) = (vec![0.0; m * n], vec![1.0; m * n]);
                // SAFETY: AVX2 and FMA are present; the operands have their shapes.
                unsafe { conv_gemm_avx2(&product(m, k, n, &a, &b, &bias, relu), &mut fast) };
                conv_gemm_portable(&product(m, k, n, &a, &b, &bias, relu), &mut slow);
                assert!(
                    fast.iter().zip(&slow).all(|(f, s)| f.to_bits() == s.to_bits()),
                    "conv {m}x{k}x{n}"
                );
            }
        }
        for (samples, inputs, outputs) in [(32, 784, 120), (7, 83, 10), (2, 5, 3)] {
            let (x, w, bias) = (
                values(samples * inputs, 10),
                values(outputs * inputs, 11),
                values(outputs, 12),
            );
            let sh = LinearShape {
                inputs,
                outputs,
                relu: true,
            };
            let (mut fast, mut slow) = (vec![0.0; samples * outputs], vec![1.0; samples * outputs]);
            // SAFETY: AVX2 and FMA are present; the operands have their shapes.
            unsafe { linear_gemm_avx2(&sh, samples, &x, &w, Some(&bias), &mut fast) };
            linear_gemm_portable(&sh, samples, &x, &w, Some(&bias), &mut slow);
            assert!(
                fast.iter().zip(&slow).all(|(f, s)| f.to_bits() == s.to_bits()),
                "linear {samples}x{inputs}x{outputs}"
            );
        }
    }
}
