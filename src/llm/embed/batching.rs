//! Groups sequences into forward passes, shortest first, so that neighbours
//! have similar (often equal) lengths: padded passes (MiniLM) waste little on
//! padding, and packed passes (e5) get large groups of equal length that share
//! one batched attention. A token budget per pass bounds memory (attention
//! holds sequences × heads × len² scores) while keeping passes large enough
//! that every weight is streamed once for many texts.

/// Padded tokens (batch × longest) one pass may hold.
pub const TOKENS_PER_PASS: usize = 4096;

/// Indices into `lengths`, grouped into passes of at most `budget` padded
/// tokens (a sequence longer than the budget gets a pass of its own).
pub fn plan_passes(lengths: &[usize], budget: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| lengths[i]);
    let mut passes: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for i in order {
        // Sorted ascending, so `lengths[i]` is the longest in the pass so far.
        let padded = (current.len() + 1) * lengths[i];
        if !current.is_empty() && padded > budget {
            passes.push(std::mem::take(&mut current));
        }
        current.push(i);
    }
    if !current.is_empty() {
        passes.push(current);
    }
    passes
}

/// A run of sequences of the same length, stored one after another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthGroup {
    pub sequences: usize,
    pub len: usize,
}

impl LengthGroup {
    pub fn tokens(&self) -> usize {
        self.sequences * self.len
    }
}

/// Runs of equal consecutive lengths (sorted input gives the fewest groups).
pub fn length_groups(lengths: impl IntoIterator<Item = usize>) -> Vec<LengthGroup> {
    let mut groups: Vec<LengthGroup> = Vec::new();
    for len in lengths {
        match groups.last_mut() {
            Some(group) if group.len == len => group.sequences += 1,
            _ => groups.push(LengthGroup { sequences: 1, len }),
        }
    }
    groups
}

/// Right-pads id sequences to the longest: (flat ids, flat 0/1 mask, longest).
pub fn pad(sequences: &[&[u32]], pad_id: u32) -> (Vec<u32>, Vec<f32>, usize) {
    let longest = sequences.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut ids = Vec::with_capacity(sequences.len() * longest);
    let mut mask = Vec::with_capacity(sequences.len() * longest);
    for sequence in sequences {
        ids.extend_from_slice(sequence);
        ids.resize(ids.len() + longest - sequence.len(), pad_id);
        mask.extend(std::iter::repeat_n(1.0, sequence.len()));
        mask.extend(std::iter::repeat_n(0.0, longest - sequence.len()));
    }
    (ids, mask, longest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_take_similar_lengths_together_within_the_budget() {
        let passes = plan_passes(&[10, 3, 9, 4, 100], 20);
        assert_eq!(passes, vec![vec![1, 3], vec![2, 0], vec![4]]);
    }

    #[test]
    fn equal_neighbouring_lengths_form_one_group() {
        let groups = length_groups([3, 3, 5, 3]);
        let expected =
            [(2, 3), (1, 5), (1, 3)].map(|(sequences, len)| LengthGroup { sequences, len });
        assert_eq!(groups, expected);
    }

    #[test]
    fn padding_fills_ids_with_the_pad_id_and_masks_them_out() {
        let (ids, mask, longest) = pad(&[&[5, 6, 7], &[8]], 1);
        assert_eq!(longest, 3);
        assert_eq!(ids, vec![5, 6, 7, 8, 1, 1]);
        assert_eq!(mask, vec![1.0, 1.0, 1.0, 1.0, 0.0, 0.0]);
    }
}
