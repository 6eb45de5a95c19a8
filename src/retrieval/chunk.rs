//! Article chunking that respects headings and Chinese sentence ends.
//!
//! A chunk never spans two sections, never cuts a sentence (。！？；!?; or a line
//! end) unless one sentence alone is longer than the limit, and carries its
//! heading trail so that "三、退款时效" stays attached to the text under it.

pub const MAX_CHUNK_CHARS: usize = 300;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// "Title > Section > Subsection".
    pub trail: String,
    pub text: String,
}

impl Chunk {
    /// What is embedded and shown: the trail, then the text.
    pub fn indexed_text(&self) -> String {
        if self.trail.is_empty() {
            self.text.clone()
        } else {
            format!("{}: {}", self.trail, self.text)
        }
    }
}

pub fn chunk_markdown(title: &str, body: &str, max_chars: usize) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut trail: Vec<(usize, String)> = Vec::new();
    let mut section = String::new();
    let flush = |trail: &[(usize, String)], section: &mut String, chunks: &mut Vec<Chunk>| {
        let mut names = vec![title.to_owned()];
        names.extend(trail.iter().map(|(_, t)| t.clone()).filter(|t| t != title));
        let trail_text = names.join(" > ");
        for text in pack(&sentences(section), max_chars) {
            chunks.push(Chunk {
                trail: trail_text.clone(),
                text,
            });
        }
        section.clear();
    };
    for line in body.lines() {
        let trimmed = line.trim_start();
        let level = trimmed.chars().take_while(|c| *c == '#').count();
        if level > 0 && trimmed[level..].starts_with(' ') {
            flush(&trail, &mut section, &mut chunks);
            trail.retain(|(l, _)| *l < level);
            trail.push((level, trimmed[level..].trim().to_owned()));
        } else {
            section.push_str(line);
            section.push('\n');
        }
    }
    flush(&trail, &mut section, &mut chunks);
    chunks
}

/// Sentences, each keeping its end mark; table rows and list items are lines.
fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if c == '\n' {
            push_sentence(&mut out, &mut current);
            continue;
        }
        current.push(c);
        if matches!(c, '。' | '！' | '？' | '；' | '!' | '?' | ';') {
            push_sentence(&mut out, &mut current);
        }
    }
    push_sentence(&mut out, &mut current);
    out
}

fn push_sentence(out: &mut Vec<String>, current: &mut String) {
    let s = current.trim();
    if !s.is_empty() {
        out.push(s.to_owned());
    }
    current.clear();
}

/// Greedy packing of whole sentences up to `max` characters.
fn pack(sentences: &[String], max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for s in sentences {
        let joined = current.chars().count() + s.chars().count() + 1;
        if !current.is_empty() && joined > max {
            out.push(std::mem::take(&mut current));
        }
        if s.chars().count() > max {
            let chars: Vec<char> = s.chars().collect();
            for piece in chars.chunks(max) {
                out.push(piece.iter().collect());
            }
            continue;
        }
        if !current.is_empty() {
            current.push(if s.is_ascii() { ' ' } else { '\n' });
        }
        current.push_str(s);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_stay_inside_their_section_with_its_heading() {
        let body = "# 售后政策\n## 一、退货\n七天内可退。需保持完好。\n## 二、退款\n退款三天到账。";
        let chunks = chunk_markdown("售后政策", body, 300);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].trail, "售后政策 > 一、退货");
        assert!(chunks[0].text.contains("七天内可退。"));
        assert!(!chunks[0].text.contains("退款三天"));
        assert_eq!(chunks[1].trail, "售后政策 > 二、退款");
    }

    #[test]
    fn sentences_are_not_cut_at_the_limit() {
        let body = "第一句话很长很长。第二句话也很长。第三句。";
        let chunks = chunk_markdown("t", body, 12);
        for c in &chunks {
            assert!(c.text.ends_with('。'), "{c:?}");
        }
        assert_eq!(chunks.len(), 3);
    }

    #[test]
    fn an_overlong_sentence_is_split_by_length() {
        let body = "退".repeat(25);
        let chunks = chunk_markdown("t", &body, 10);
        assert_eq!(chunks.len(), 3);
        assert!(chunks.iter().all(|c| c.text.chars().count() <= 10));
    }
}
