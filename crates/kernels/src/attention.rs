//! Causal self-attention over the KV cache, written out rather than built from
//! tensor ops. Every query row is computed on its own, in a fixed order, so a
//! position gets bit-identical results whether it is prefilled in one batch,
//! in chunks, or decoded alone: reusing a cached prompt prefix then changes
//! nothing in the output, not even a near-tie of greedy decoding.

#[derive(Debug, Clone, Copy)]
pub struct AttentionShape {
    pub n_head: usize,
    pub n_kv_head: usize,
    pub head_dim: usize,
    /// New query positions.
    pub seq: usize,
    /// Positions cached before them.
    pub pos: usize,
}

/// `q`: (n_head, seq, head_dim) after rotary embedding; `keys`/`values`: per KV head,
/// (pos + seq, head_dim). Returns (seq, n_head, head_dim), ready for the output projection.
pub fn causal_attention(
    q: &[f32],
    keys: &[Vec<f32>],
    values: &[Vec<f32>],
    s: AttentionShape,
) -> Vec<f32> {
    let d = s.head_dim;
    let group = s.n_head / s.n_kv_head;
    let scale = 1.0 / (d as f32).sqrt();
    let mut out = vec![0f32; s.seq * s.n_head * d];
    let target = OutRows(out.as_mut_ptr());
    // Each (head, row) is one work item writing one output row. They run on
    // candle's own worker pool, the one its matmuls use, so the two never fight
    // over the cores.
    candle_core::utils::barrier_pool().execute_chunked(s.n_head * s.seq, |items| {
        let mut row_out = vec![0f32; d];
        for item in items {
            let (head, row) = (item / s.seq, item % s.seq);
            let query = &q[(head * s.seq + row) * d..][..d];
            let kv = head / group;
            attend_row(
                query,
                &keys[kv],
                &values[kv],
                s.pos + row + 1,
                d,
                scale,
                &mut row_out,
            );
            // SAFETY: item (head, row) owns output row (row * n_head + head) alone, and
            // `out` outlives the call: no two items write the same floats.
            unsafe { target.write((row * s.n_head + head) * d, &row_out) };
        }
    });
    out
}

/// The output buffer, shared by work items that write disjoint rows.
#[derive(Clone, Copy)]
struct OutRows(*mut f32);

// SAFETY: only disjoint ranges are written through the pointer (see the caller).
unsafe impl Send for OutRows {}
unsafe impl Sync for OutRows {}

impl OutRows {
    /// # Safety
    /// `offset..offset + row.len()` must be in bounds and written by no one else.
    unsafe fn write(self, offset: usize, row: &[f32]) {
        unsafe { std::ptr::copy_nonoverlapping(row.as_ptr(), self.0.add(offset), row.len()) };
    }
}

/// softmax(q·K[..visible] * scale) · V[..visible] for one query row.
fn attend_row(
    query: &[f32],
    keys: &[f32],
    values: &[f32],
    visible: usize,
    d: usize,
    scale: f32,
    out: &mut [f32],
) {
    let mut scores: Vec<f32> = keys[..visible * d]
        .chunks_exact(d)
        .map(|key| dot(query, key) * scale)
        .collect();
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for s in &mut scores {
        *s = (*s - max).exp();
        sum += *s;
    }
    out.fill(0.0);
    for (p, value) in scores.iter().zip(values[..visible * d].chunks_exact(d)) {
        let w = p / sum;
        for (o, v) in out.iter_mut().zip(value) {
            *o += w * v;
        }
    }
}

/// Dot product with sixteen independent accumulators: one AVX-512 register (two
/// AVX2 ones), no bounds checks in the loop, and a fixed summation order.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let mut acc = [0f32; LANES];
    let (xs, ys) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (x_rest, y_rest) = (xs.remainder(), ys.remainder());
    for (x, y) in xs.zip(ys) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let mut total: f32 = acc.iter().sum();
    for (x, y) in x_rest.iter().zip(y_rest) {
        total += x * y;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(q: &[f32], k: &[f32], v: &[f32], visible: usize, d: usize) -> Vec<f32> {
        let scores: Vec<f32> = (0..visible)
            .map(|j| (0..d).map(|x| q[x] * k[j * d + x]).sum::<f32>() / (d as f32).sqrt())
            .collect();
        let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let e: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
        let sum: f32 = e.iter().sum();
        (0..d)
            .map(|x| (0..visible).map(|j| e[j] / sum * v[j * d + x]).sum())
            .collect()
    }

    #[test]
    fn matches_a_naive_softmax_attention_and_is_causal() {
        let d = 16;
        let (seq, n_head, n_kv) = (3, 2, 1);
        let k: Vec<f32> = (0..seq * d)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 6.0)
            .collect();
        let v: Vec<f32> = (0..seq * d)
            .map(|i| ((i * 5 % 11) as f32 - 5.0) / 5.0)
            .collect();
        let q: Vec<f32> = (0..n_head * seq * d)
            .map(|i| ((i * 3 % 17) as f32 - 8.0) / 8.0)
            .collect();
        let shape = AttentionShape {
            n_head,
            n_kv_head: n_kv,
            head_dim: d,
            seq,
            pos: 0,
        };
        let out = causal_attention(
            &q,
            std::slice::from_ref(&k),
            std::slice::from_ref(&v),
            shape,
        );
        for head in 0..n_head {
            for row in 0..seq {
                let expected = naive(&q[(head * seq + row) * d..][..d], &k, &v, row + 1, d);
                let got = &out[(row * n_head + head) * d..][..d];
                for (e, g) in expected.iter().zip(got) {
                    assert!((e - g).abs() < 1e-5, "head {head} row {row}: {e} vs {g}");
                }
            }
        }
    }

    #[test]
    fn a_row_is_the_same_in_a_batch_and_alone() {
        let d = 8;
        let k: Vec<f32> = (0..4 * d).map(|i| (i as f32).sin()).collect();
        let v: Vec<f32> = (0..4 * d).map(|i| (i as f32).cos()).collect();
        let q: Vec<f32> = (0..4 * d).map(|i| (i as f32 * 0.3).sin()).collect();
        let batch = causal_attention(
            &q,
            std::slice::from_ref(&k),
            std::slice::from_ref(&v),
            AttentionShape {
                n_head: 1,
                n_kv_head: 1,
                head_dim: d,
                seq: 4,
                pos: 0,
            },
        );
        let last = causal_attention(
            &q[3 * d..],
            &[k],
            &[v],
            AttentionShape {
                n_head: 1,
                n_kv_head: 1,
                head_dim: d,
                seq: 1,
                pos: 3,
            },
        );
        assert_eq!(&batch[3 * d..], &last[..]);
    }
}
