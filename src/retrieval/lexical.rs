//! Lexical side of hybrid retrieval: Chinese-aware tokens and BM25-style sparse vectors.
//!
//! Chinese runs are cut by jieba (search mode, so 七天无理由退货 yields both the
//! compound and its parts) with the shop's own vocabulary added, and also as
//! character bigrams, which keep paraphrases that jieba cuts differently in reach.
//! Latin runs become lower-cased Snowball stems. A token's index in the sparse
//! vector is a 32-bit FNV-1a hash of it; the index applies IDF (Qdrant's IDF
//! modifier), so the document side carries only the saturated term frequency.
//!
//! The document side also carries each Chinese character on its own, and each
//! pair of neighbouring characters as it sounds (toneless pinyin). No query
//! asks the index for them, so BM25 ranks as before; they are for the entry
//! classifier, which reads the stored document vectors. A short colloquial
//! message ("打开uc", "放首歌") often shares no word or bigram with an entry's
//! wordings but shares its characters: on smp2017-dev the classifier's top-1
//! rose with them, and so did its separation of chit-chat from intents. A
//! buyer typing with a pinyin input method picks a homophone now and then
//! ("退宽" for 退款, "花被" for 花呗): the pair still sounds like the entry's.

use crate::domain::knowledge::is_cjk;
use jieba_rs::Jieba;
use rust_stemmers::{Algorithm, Stemmer};
use std::collections::BTreeMap;

/// BM25 term-frequency saturation and length normalisation.
const K1: f32 = 1.2;
const B: f32 = 0.75;
/// Typical length in tokens of an indexed text (questions are short).
const AVG_LEN: f32 = 16.0;

pub use crate::ports::vector_index::SparseVector;

pub struct Segmenter {
    jieba: Jieba,
    stemmer: Stemmer,
}

impl std::fmt::Debug for Segmenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Segmenter")
    }
}

impl Default for Segmenter {
    fn default() -> Self {
        Segmenter::new(std::iter::empty::<&str>())
    }
}

impl Segmenter {
    /// A segmenter with the stock dictionary plus the shop's `vocabulary`
    /// (brand and product names, payment terms) kept whole.
    pub fn new<S: AsRef<str>>(vocabulary: impl IntoIterator<Item = S>) -> Self {
        let mut jieba = Jieba::new();
        for word in vocabulary {
            let word = word.as_ref().trim();
            if !word.is_empty() && !word.starts_with('#') {
                jieba.add_word(&normalise(word), Some(100_000), None);
            }
        }
        Segmenter {
            jieba,
            stemmer: Stemmer::create(Algorithm::English),
        }
    }

    /// Reads a vocabulary file: one term per line, `#` starts a comment.
    pub fn from_vocabulary_text(text: &str) -> Self {
        Segmenter::new(text.lines().map(|l| l.split('#').next().unwrap_or("")))
    }

    /// The lexical tokens of a text, in order, duplicates kept (they are term frequency).
    pub fn tokens(&self, text: &str) -> Vec<String> {
        let text = normalise(text);
        let mut out = Vec::new();
        for run in runs(&text) {
            match run {
                Run::Cjk(s) => self.cjk_tokens(s, &mut out),
                Run::Latin(s) => out.push(self.stemmer.stem(s).into_owned()),
                Run::Digits(s) => out.push(s.to_owned()),
            }
        }
        out
    }

    fn cjk_tokens(&self, run: &str, out: &mut Vec<String>) {
        for token in self.jieba.cut_for_search(run, true) {
            let w = token.word;
            if !is_particle(w) {
                out.push(w.to_owned());
            }
        }
        let chars: Vec<char> = run.chars().collect();
        for pair in chars.windows(2) {
            out.push(format!("\u{1}{}{}", pair[0], pair[1]));
        }
    }

    /// Document side: BM25 saturated term frequency per token, and per
    /// Chinese character (for the classifier only: the length that normalises
    /// the tokens' frequencies leaves the characters out, so BM25 is unchanged).
    pub fn document_vector(&self, text: &str) -> SparseVector {
        let tokens = self.tokens(text);
        let len = tokens.len() as f32;
        let mut tf: BTreeMap<u32, f32> = BTreeMap::new();
        for t in &tokens {
            *tf.entry(token_index(t)).or_default() += 1.0;
        }
        let text = normalise(text);
        for c in text.chars().filter(|c| is_cjk(*c)) {
            *tf.entry(token_index(&character_feature(c))).or_default() += 1.0;
        }
        for pair in sound_pairs(&text) {
            *tf.entry(token_index(&sound_feature(pair))).or_default() += 1.0;
        }
        let norm = K1 * (1.0 - B + B * len / AVG_LEN);
        let (indices, values) = tf
            .into_iter()
            .map(|(i, f)| (i, f * (K1 + 1.0) / (f + norm)))
            .unzip();
        SparseVector { indices, values }
    }

    /// Query side: each distinct token once; the index multiplies by its IDF.
    pub fn query_vector(&self, text: &str) -> SparseVector {
        let mut seen: BTreeMap<u32, f32> = BTreeMap::new();
        for t in self.tokens(text) {
            seen.insert(token_index(&t), 1.0);
        }
        let (indices, values) = seen.into_iter().unzip();
        SparseVector { indices, values }
    }
}

/// Lower case, full-width ASCII folded to half-width.
pub fn normalise(text: &str) -> String {
    text.chars()
        .map(|c| match c as u32 {
            0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            0x3000 => ' ',
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// A single character as a document-side feature; the prefix keeps it apart
/// from a one-character word jieba cuts.
fn character_feature(c: char) -> String {
    format!("\u{2}{c}")
}

fn sound_feature((a, b): (&str, &str)) -> String {
    format!("\u{3}{a} {b}")
}

/// How a Chinese character sounds: its most common reading in toneless
/// pinyin ("款" → "kuan"); None for anything else.
pub fn sound(c: char) -> Option<&'static str> {
    use pinyin::ToPinyin;
    if is_cjk(c) {
        c.to_pinyin().map(|p| p.plain())
    } else {
        None
    }
}

/// The sounds of each pair of neighbouring Chinese characters in `text`.
pub fn sound_pairs(text: &str) -> Vec<(&'static str, &'static str)> {
    let sounds: Vec<Option<&'static str>> = text.chars().map(sound).collect();
    sounds
        .windows(2)
        .filter_map(|w| Some((w[0]?, w[1]?)))
        .collect()
}

fn token_index(token: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in token.as_bytes() {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Sentence particles and pronouns that say nothing about what is asked.
fn is_particle(w: &str) -> bool {
    matches!(
        w,
        "的" | "了"
            | "吗"
            | "呢"
            | "啊"
            | "吧"
            | "呀"
            | "哦"
            | "嘛"
            | "么"
            | "是"
            | "我"
            | "你"
            | "亲"
    )
}

enum Run<'a> {
    Cjk(&'a str),
    Latin(&'a str),
    Digits(&'a str),
}

fn class(c: char) -> u8 {
    if is_cjk(c) {
        1
    } else if c.is_ascii_digit() {
        2
    } else if c.is_alphanumeric() || c == '\'' {
        3
    } else {
        0
    }
}

fn runs(text: &str) -> Vec<Run<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut current = 0u8;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        let k = class(c);
        if k != current {
            if current != 0 {
                let s = &text[start..i];
                out.push(match current {
                    1 => Run::Cjk(s),
                    2 => Run::Digits(s),
                    _ => Run::Latin(s),
                });
            }
            start = i;
            current = k;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shop_vocabulary_keeps_terms_whole() {
        let stock = Segmenter::default();
        let shop = Segmenter::new(["花呗分期", "小二优选"]);
        let has =
            |s: &Segmenter, w: &str| s.tokens("小二优选支持花呗分期吗").iter().any(|t| t == w);
        assert!(!has(&stock, "花呗分期"));
        assert!(has(&shop, "花呗分期"));
        assert!(has(&shop, "小二优选"));
    }

    #[test]
    fn mixed_text_is_split_by_script() {
        let s = Segmenter::default();
        let tokens = s.tokens("AirPods退货 refunds 2026");
        assert!(tokens.contains(&"airpod".to_string()));
        assert!(tokens.contains(&"refund".to_string()));
        assert!(tokens.contains(&"2026".to_string()));
        assert!(tokens.contains(&"退货".to_string()));
    }

    #[test]
    fn full_width_is_folded() {
        assert_eq!(normalise("ＡＢＣ１２３"), "abc123");
    }

    #[test]
    fn particles_do_not_count_but_bigrams_do() {
        let s = Segmenter::default();
        let tokens = s.tokens("能退吗");
        assert!(!tokens.contains(&"吗".to_string()));
        assert!(tokens.iter().any(|t| t.ends_with("退吗")));
    }

    #[test]
    fn characters_are_on_the_document_side_only_and_leave_bm25_as_it_was() {
        let s = Segmenter::default();
        let text = "打开优酷看电视剧";
        let doc = s.document_vector(text);
        let query = s.query_vector(text);
        let character = token_index(&character_feature('酷'));
        assert!(doc.indices.contains(&character));
        assert!(!query.indices.contains(&character));
        // Every token's weight is what the tokens alone give.
        let tokens = s.tokens(text);
        let norm = K1 * (1.0 - B + B * tokens.len() as f32 / AVG_LEN);
        for t in &tokens {
            let f = tokens.iter().filter(|u| *u == t).count() as f32;
            let at = doc
                .indices
                .iter()
                .position(|i| *i == token_index(t))
                .unwrap();
            assert!(
                (doc.values[at] - f * (K1 + 1.0) / (f + norm)).abs() < 1e-6,
                "{t}"
            );
        }
        // Latin text has no character features.
        let english = s.document_vector("refund please");
        assert_eq!(english.indices.len(), s.tokens("refund please").len());
    }

    #[test]
    fn a_homophone_typo_sounds_like_what_it_stands_for() {
        assert_eq!(sound('款'), Some("kuan"));
        assert_eq!(sound('宽'), Some("kuan"));
        assert_eq!(sound('a'), None);
        assert_eq!(sound_pairs("退宽"), sound_pairs("退款"));
        assert_eq!(sound_pairs("花被a花"), [("hua", "bei")]);
        let s = Segmenter::default();
        let typo = s.document_vector("退宽多久到账");
        let right = s.document_vector("退款多久到账");
        let heard = token_index(&sound_feature(("tui", "kuan")));
        assert!(typo.indices.contains(&heard) && right.indices.contains(&heard));
        assert!(!s.query_vector("退款多久到账").indices.contains(&heard));
    }

    #[test]
    fn repeated_terms_saturate() {
        let s = Segmenter::default();
        let once = s.document_vector("refund");
        let thrice = s.document_vector("refund refund refund");
        assert!(thrice.values[0] > once.values[0]);
        assert!(thrice.values[0] < 3.0 * once.values[0]);
        assert_eq!(s.query_vector("refund refund").values, vec![1.0]);
    }
}
