//! Whether a generated answer says only what the entries it was given say.
//!
//! A small model asked about a fact the knowledge base lacks ("包包是真皮的吗")
//! tends to agree with the buyer, or to invent a plausible detail, and to cite
//! whatever entry it was shown. For a shop that is false advertising, so every
//! generated answer is held to its entries before it is committed:
//! - it is in the buyer's language;
//! - every number in it (price, days, percentage) occurs in the entries or the question;
//! - every model code or Latin name in a Chinese answer occurs there too;
//! - after stop words and the question's own terms are set aside, enough key
//!   terms remain (a bare "可以" or the question said back is no answer), and
//!   most of them occur in the entries.
//!
//! An answer that fails is treated as a don't-know; the buyer never sees it as an answer.

use crate::domain::lang::{Lang, is_cjk};
use crate::retrieval::lexical::{Segmenter, normalise, sound_pairs};
use std::collections::HashSet;

/// Key terms an answer must add to the question before it says anything.
const MIN_NEW_TERMS: usize = 2;
/// Share of the answer's key terms that must occur in the entries.
const MIN_SUPPORTED_SHARE: f32 = 0.6;
/// An answer copied from an entry this long (characters, punctuation aside) is supported as it stands.
const MIN_VERBATIM_CHARS: usize = 6;

/// Why an answer is not supported by its entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsupported {
    /// Not in the buyer's language.
    WrongLanguage,
    /// A number that occurs neither in the entries nor in the question.
    InventedNumber(String),
    /// A model code or Latin name that occurs neither in the entries nor in the question.
    InventedName(String),
    /// "可以", "是的", "yes": agreement with nothing behind it.
    BareYesNo,
    /// The question said back, with too little of its own to be an answer.
    RestatesQuestion,
    /// Most of what it says is not in the entries.
    InventedContent { supported: usize, terms: usize },
}

/// The check, with its segmenter, stop words and the shop's synonyms built once.
pub struct Grounding {
    segmenter: Segmenter,
    stop: HashSet<String>,
    synonyms: Synonyms,
}

/// Words the shop uses for the same thing ("短袖" and "T恤", "洗衣机" and
/// "机洗", "kg" and "公斤"): `knowledge/synonyms.txt`, one group a line,
/// words apart by spaces or commas, `#` starts a comment. A question's word
/// counts as spoken of when an entry says any word of its group; a model's
/// answer may use any word of the group its entries use.
#[derive(Debug, Clone, Default)]
pub struct Synonyms {
    groups: Vec<Vec<String>>,
}

impl Synonyms {
    pub fn parse(text: &str) -> Self {
        let groups = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or(""))
            .map(|l| {
                l.split(|c: char| c.is_whitespace() || matches!(c, ',' | '，' | '、' | '='))
                    .filter(|w| !w.is_empty())
                    .map(|w| arabic_numerals(&normalise(w)))
                    .collect::<Vec<_>>()
            })
            .filter(|g| g.len() >= 2)
            .collect();
        Synonyms { groups }
    }

    /// The other words of every group `word` belongs to.
    fn of<'a>(&'a self, word: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.groups
            .iter()
            .filter(move |g| g.iter().any(|w| w == word))
            .flatten()
            .map(String::as_str)
            .filter(move |w| *w != word)
    }
}

impl std::fmt::Debug for Grounding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Grounding")
    }
}

/// Function words and shop small talk: they carry no fact of their own.
#[rustfmt::skip]
const STOP_ZH: &[&str] = &[
    "亲", "您", "你", "我", "我们", "你们", "咱们", "本店", "小店", "店铺", "请", "哦", "呢", "吧",
    "啊", "呀", "嘛", "哈", "的", "地", "得", "了", "着", "过", "是", "是的", "对", "对的", "有",
    "没有", "没", "可以", "能", "能够", "不", "不能", "不可以", "不会", "会", "要", "需要", "在",
    "和", "与", "跟", "或", "或者", "也", "都", "就", "还", "又", "再", "这", "那", "这个", "那个",
    "这款", "那款", "款", "个", "一个", "些", "一些", "一下", "如果", "的话", "支持", "不支持",
    "建议", "商品", "产品", "东西", "问题", "具体", "情况", "非常", "很", "比较", "目前", "暂时",
    "暂不", "详情", "详情页", "客服", "联系", "咨询", "为您", "给您", "您好", "感谢", "谢谢",
    "抱歉", "不好意思", "时候", "什么", "多少", "怎么", "怎样", "如何", "吗", "是否", "所有",
    "已经", "但", "但是", "因为", "所以", "以及", "及", "等", "上", "中", "下", "里", "对于", "给",
    "让", "被", "把", "从", "到", "为", "以", "之", "其", "该", "此", "哪", "哪些", "其他", "其它",
    "放心", "当然", "一定", "肯定", "确实", "一般", "通常", "都是", "就是", "还是", "只", "只是",
    "只要", "可能", "应该", "无法", "不了", "看", "查看", "了解", "告诉", "说", "问", "不要", "一次",
    "第一", "还能", "还有", "另外", "而且", "请问", "想问", "问下", "问一下", "请教", "麻烦", "在吗",
    "亲亲", "你好", "老板", "掌柜", "店家", "咨询一下", "以后", "之后", "现在", "时间", "开始",
    "处理", "一块", "别的", "正常", "平常", "要是", "万一", "帮忙", "很多", "大概", "多久",
    "多长", "多长时间", "长时间", "啥时候", "什么时候", "那边", "这边", "咋整", "咋办", "怎么办",
    "回事", "一下", "一般来说", "大约", "左右", "一阵子", "一阵", "阵子",
];
#[rustfmt::skip]
const STOP_EN: &[&str] = &[
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "being", "am", "yes", "no", "not",
    "yeah", "sure", "of", "course", "you", "your", "yours", "we", "our", "us", "i", "me", "my",
    "it", "its", "it's", "they", "them", "their", "this", "that", "these", "those", "there",
    "here", "can", "could", "will", "would", "shall", "should", "may", "might", "must", "do",
    "does", "did", "done", "have", "has", "had", "to", "of", "in", "on", "at", "by", "for", "from",
    "with", "without", "about", "as", "into", "and", "or", "but", "if", "so", "than", "then",
    "also", "too", "very", "just", "only", "any", "all", "some", "each", "every", "which", "what",
    "when", "where", "who", "how", "why", "please", "thank", "thanks", "sorry", "hello", "hi",
    "dear", "shop", "store", "item", "items", "product", "products", "question", "help", "happy",
    "glad", "contact", "team", "customer", "service", "support", "supports", "supported", "check",
    "page", "details", "detail", "more", "information", "info", "let", "know", "get", "make",
    // Chat spellings of the words above ("can u ship to 新加坡").
    "u", "ur", "r", "ya", "pls", "plz", "thx",
];
/// Whole answers that agree or disagree and say nothing else.
#[rustfmt::skip]
const BARE_ANSWERS: &[&str] = &[
    "可以", "可以的", "能", "能的", "是", "是的", "是滴", "对", "对的", "有", "有的", "有呀",
    "会", "会的", "不可以", "不能", "不是", "没有", "不会", "当然可以", "当然", "支持", "不支持",
    "yes", "no", "sure", "ofcourse", "yesitis", "yesitcan", "yesyoucan", "yeswedo", "itis",
    "itcan", "notreally", "nope", "yep", "yeah",
];

/// English words (stemmed) that say how something is asked, not what about.
#[rustfmt::skip]
const EN_LIGHT: &[&str] = &[
    "work", "stuff", "someth", "thing", "way", "until", "show", "up", "off", "right", "now",
    "come", "go", "want", "need", "like", "anyth", "tell", "ask", "much", "mani", "long",
    "soon", "time", "here", "still", "ok", "okay", "realli", "actual", "possibl", "get", "got",
    "use", "give", "take", "put", "send", "someon", "anyon", "one", "talk", "speak",
];

/// Single characters of a Chinese question that say nothing of its subject:
/// particles, pronouns, question words, and everyday verbs of shopping.
const SINGLE_ZH: &str = "亲您你我他她它们的地得了着过是有在能会要不没别和与跟或也都就还又再这那个些把被给让从到为以之其该此哪几多少么吗呢吧啊呀嘛哈哦喔噢呗咧嗯滴哒啥咋怎谁请问说看想用买拍下上里中内外前后去来做弄让可很太更最先才刚已正只该好行对一下个件次点儿嘞么呐啦走慢样扔卖搞弄放成双大小";

impl Grounding {
    pub fn new(segmenter: Segmenter) -> Self {
        Self::with_synonyms(segmenter, Synonyms::default())
    }

    pub fn with_synonyms(segmenter: Segmenter, synonyms: Synonyms) -> Self {
        let stop = STOP_ZH
            .iter()
            .chain(STOP_EN)
            .flat_map(|w| segmenter.tokens(w))
            .chain(STOP_ZH.iter().map(|w| (*w).to_owned()))
            .collect();
        Grounding {
            segmenter,
            stop,
            synonyms,
        }
    }

    /// Whether `evidence` (normalised, numerals in digits) says `term` or a synonym of it.
    fn says(&self, evidence: &str, term: &str) -> bool {
        evidence.contains(term) || self.synonyms.of(term).any(|s| evidence.contains(s))
    }

    /// Checks `answer` (citation marks already removed) against the `entries`
    /// it was grounded on (title and answer of each), for a buyer who asked
    /// `question` in `lang`.
    pub fn check(
        &self,
        answer: &str,
        question: &str,
        entries: &[&str],
        lang: Lang,
    ) -> Result<(), Unsupported> {
        self.check_with(answer, question, entries, &[], lang)
    }

    /// `check`, where the entries' other `wordings` (their similar questions
    /// and tags) may back what the buyer asked about, said back in the answer
    /// ("广州" for the delivery-time entry): never a fact the answer adds,
    /// which only the entries' text (or a synonym of its words) backs.
    pub fn check_with(
        &self,
        answer: &str,
        question: &str,
        entries: &[&str],
        wordings: &[&str],
        lang: Lang,
    ) -> Result<(), Unsupported> {
        if !in_language(answer, lang) {
            return Err(Unsupported::WrongLanguage);
        }
        let evidence = normalise(&entries.join("\n"));
        let asked = normalise(question);
        if let Some(n) = invented_number(answer, &evidence, &asked) {
            return Err(Unsupported::InventedNumber(n));
        }
        if let Some(name) = invented_name(answer, &evidence, &asked, lang) {
            return Err(Unsupported::InventedName(name));
        }
        let core = core_text(answer);
        if BARE_ANSWERS.contains(&core.as_str()) {
            return Err(Unsupported::BareYesNo);
        }
        if core.chars().count() >= MIN_VERBATIM_CHARS && core_text(&evidence).contains(&core) {
            return Ok(()); // said word for word by an entry
        }
        let question_terms: HashSet<String> = self.key_terms(question).into_iter().collect();
        let (echoed, terms): (Vec<String>, Vec<String>) = self
            .key_terms(answer)
            .into_iter()
            .partition(|t| question_terms.contains(t) || asked.contains(t.as_str()));
        if terms.len() < MIN_NEW_TERMS {
            return Err(Unsupported::RestatesQuestion);
        }
        let evidence_terms: HashSet<String> = self.key_terms(&evidence).into_iter().collect();
        let said = arabic_numerals(&evidence);
        let found =
            |t: &String| evidence_terms.contains(t) || self.says(&said, &arabic_numerals(t));
        let supported = terms.iter().filter(|t| found(t)).count();
        // What the buyer asked about that no entry mentions ("德国", "库存"),
        // said back in the answer, is the subject of a claim the entries cannot back.
        let subjects = arabic_numerals(&normalise(&wordings.join("\n")));
        // A festival is named by the first entry's own text: neither another
        // entry ("双11、双12 等大促期间…" of the dispatch-time entry) nor a
        // wording backs the 双12 entry's offer said of 双11.
        let named = festival_evidence(entries.first().copied());
        let unbacked_subjects = echoed
            .iter()
            .filter(|t| !found(t) && !self.says(&subjects, &arabic_numerals(t)))
            .count()
            // "双11有满200减30的优惠" from the 双12 entry.
            + festival_names(&arabic_numerals(&normalise(answer)))
                .iter()
                .filter(|n| !named.contains(n.as_str()))
                .count();
        if unbacked_subjects > 0 {
            // "L码的T恤还有库存": the buyer's own word, asserted, backed by nothing.
            return Err(Unsupported::InventedContent {
                supported,
                terms: terms.len() + unbacked_subjects,
            });
        }
        if (supported as f32) < MIN_SUPPORTED_SHARE * terms.len() as f32 {
            return Err(Unsupported::InventedContent {
                supported,
                terms: terms.len(),
            });
        }
        Ok(())
    }

    /// Whether the entries speak of everything the question asks about: false
    /// when a key term of a Chinese question shares not even a character with
    /// them ("血氧", "无线", "ipad"), or when an English question names a thing
    /// (a capitalised word or a code: "GPS", "Brazil") they never mention. Such
    /// a question has no answer in these entries, however well one of them
    /// matched: sent as it stands, the closest entry ("充电宝能给ipad充电不"
    /// answered with the power bank's charging entry) is a non-answer with a
    /// citation, and a model given it talks around what was asked.
    pub fn covers(&self, question: &str, entries: &[&str], lang: Lang) -> bool {
        self.unnamed(question, entries, lang).is_empty()
    }

    /// What the question asks about that the entries never speak of (see `covers`).
    ///
    /// `entries` are the best entries' text with their other wordings (similar
    /// questions, tags): what a knowledge manager said an entry is about counts
    /// ("到广州大概多久" makes "广州" a subject of the delivery-time entry).
    /// A Chinese question's words are held whole, numerals read as digits
    /// ("双十二" is "双12"), a word of the shop's synonyms counting as any of
    /// its group; a compound counts when its parts do ("到货时间"), a part when
    /// its compound does. Single characters that carry a subject ("剩", "克",
    /// "重") are held too; function words and the shop's everyday verbs are not.
    pub fn unnamed(&self, question: &str, entries: &[&str], lang: Lang) -> Vec<String> {
        let evidence = arabic_numerals(&normalise(&entries.join("\n")));
        let asked = arabic_numerals(&normalise(question));
        let heard: HashSet<(&str, &str)> = sound_pairs(&evidence).into_iter().collect();
        let terms = match lang {
            // English paraphrases share too few words to hold every term to the
            // entries; the names in a question they must hold.
            // Every word that means something ("extended", "wireless"), names too.
            Lang::En => {
                let mut terms = names_in(question);
                for t in self.key_terms(question) {
                    if !EN_LIGHT.contains(&t.as_str()) && !terms.contains(&t) {
                        terms.push(t);
                    }
                }
                terms
            }
            // "下午3点" and "早上几点" are clock times, which an entry that
            // states one speaks of ("16:00 前付款的订单"); "下午" alone is not.
            Lang::Zh if states_a_clock_time(&evidence) => {
                let mut rest = asked.clone();
                for time in clock_times_in(&asked) {
                    rest = rest.replace(&time, " ");
                }
                self.coverage_terms(&rest)
            }
            Lang::Zh => self.coverage_terms(&asked),
        };
        // English words are compared as stems ("warranti" is "warranty").
        let stems: HashSet<String> = match lang {
            Lang::En => self.key_terms(&evidence).into_iter().collect(),
            Lang::Zh => HashSet::new(),
        };
        let spoken: Vec<bool> = terms
            .iter()
            .map(|t| {
                stems.contains(t)
                    || self.says(&evidence, t)
                    || every_content_character_in(t, &evidence)
                    || sounds_like(t, &evidence, &asked, &heard)
            })
            .collect();
        let mut unnamed: Vec<String> = terms
            .iter()
            .enumerate()
            .filter(|(i, t)| !spoken[*i] && !covered_by_others(t, &terms, &spoken))
            .map(|(_, t)| t.clone())
            .collect();
        if lang == Lang::Zh {
            // The festival asked about is the best entry's.
            let said = festival_evidence(entries.first().copied());
            unnamed.extend(
                festival_names(&asked)
                    .into_iter()
                    .filter(|n| !said.contains(n.as_str())),
            );
        }
        unnamed
    }

    /// The words of a Chinese question that must be spoken of: its key terms
    /// and its single characters that are not function words.
    fn coverage_terms(&self, question: &str) -> Vec<String> {
        let mut seen = HashSet::new();
        self.segmenter
            .tokens(question)
            .into_iter()
            .filter(|t| !t.starts_with('\u{1}'))
            .filter(|t| !self.stop.contains(t))
            .filter(|t| !t.chars().all(|c| c.is_ascii_digit() || c == '.'))
            .filter(|t| {
                let mut chars = t.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if is_cjk(c) => !SINGLE_ZH.contains(c),
                    (Some(c), None) => c.is_alphabetic(),
                    _ => true,
                }
            })
            .filter(|t| seen.insert(t.clone()))
            .collect()
    }

    /// A number the answer has finished writing (so a stream can stop early)
    /// that occurs neither in any of the `entries` nor in the `question`.
    pub fn invented_number_so_far(
        &self,
        partial: &str,
        question: &str,
        entries: &[&str],
    ) -> Option<String> {
        let done = partial.trim_end_matches(|c: char| {
            c.is_ascii_digit() || c == '.' || "零一二两三四五六七八九十百".contains(c)
        });
        invented_number(done, &normalise(&entries.join("\n")), &normalise(question))
    }

    /// The distinct words that carry meaning: the segmenter's words (not its
    /// character pairs), no stop words, no single Chinese characters, no numbers
    /// (those have their own rule).
    fn key_terms(&self, text: &str) -> Vec<String> {
        let mut seen = HashSet::new();
        self.segmenter
            .tokens(text)
            .into_iter()
            .filter(|t| !t.starts_with('\u{1}'))
            .filter(|t| !self.stop.contains(t))
            .filter(|t| !t.chars().all(|c| c.is_ascii_digit() || c == '.'))
            .filter(|t| !(t.chars().count() == 1 && t.chars().all(is_cjk)))
            .filter(|t| t.chars().count() > 1 || t.chars().all(|c| c.is_alphabetic()))
            .filter(|t| seen.insert(t.clone()))
            .collect()
    }
}

/// Chinese answers are mostly Chinese; English ones have (almost) none.
/// Product codes and Latin brand names count as neither.
fn in_language(answer: &str, lang: Lang) -> bool {
    let cjk = answer.chars().filter(|c| is_cjk(*c)).count();
    let latin_words = answer
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| w.len() >= 2)
        .count();
    match lang {
        // One Latin word per Chinese character would be a mixed answer at best.
        Lang::Zh => cjk > 0 && cjk >= latin_words,
        // A few Chinese characters: the shop's or a product's own name.
        Lang::En => latin_words > 0 && cjk <= 6 && cjk * 4 <= latin_words,
    }
}

/// The things an English question names: words written with a capital
/// inside the sentence ("Brazil"), in capitals ("GPS") or mixing letters and
/// digits ("SW-300"), lower-cased; a sentence's first word is not a name.
fn names_in(question: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut sentence_start = true;
    for word in question.split_whitespace() {
        let core = word.trim_matches(|c: char| !(c.is_ascii_alphanumeric() || c == '-'));
        let letters = core.chars().filter(char::is_ascii_alphabetic).count();
        let capital = core.chars().next().is_some_and(|c| c.is_ascii_uppercase());
        let all_caps = letters >= 2 && core.chars().all(|c| !c.is_ascii_lowercase());
        let code = letters > 0 && core.chars().any(|c| c.is_ascii_digit());
        let name = code || all_caps || (capital && !sentence_start && core != "I");
        if name && letters > 0 {
            let lower = core.to_lowercase();
            if !names.contains(&lower) {
                names.push(lower);
            }
        }
        sentence_start = word.ends_with(['.', '?', '!']);
    }
    names
}

/// Shopping festivals named by their date ("双11", "双12", "双十一" once
/// read as digits): an entry about 双12 does not speak of 双11, however much
/// else the two share. Other numbers a buyer writes onto a word ("身高172",
/// "满200") are quantities, held by the number rules instead.
fn festival_names(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut names = Vec::new();
    for (i, c) in chars.iter().enumerate() {
        if *c != '双' {
            continue;
        }
        let digits: String = chars[i + 1..]
            .iter()
            .take_while(|d| d.is_ascii_digit())
            .collect();
        let next = chars.get(i + 1 + digits.len());
        if (1..=2).contains(&digits.len()) && !next.is_some_and(|n| UNITS.contains(*n)) {
            let name = format!("双{digits}");
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// An entry's text as `festival_names` reads it: numerals as digits, no spaces.
fn festival_evidence(entry: Option<&str>) -> String {
    arabic_numerals(&normalise(entry.unwrap_or("")))
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// Whether every character of a Chinese word but function words' occurs in
/// the evidence: a paraphrase or a typo of the entries' words keeps them
/// ("洗衣机" for "机洗" and "洗衣袋"), a new subject does not ("零下",
/// "血氧"); a word of function characters only ("能用") asks about nothing.
fn every_content_character_in(term: &str, evidence: &str) -> bool {
    let cjk: Vec<char> = term.chars().filter(|c| is_cjk(*c)).collect();
    cjk.len() >= 2
        && cjk
            .iter()
            .filter(|c| !SINGLE_ZH.contains(**c))
            .all(|c| evidence.contains(*c))
}

/// Whether a Chinese term of the question is the evidence's word typed with a
/// homophone, as a pinyin input method lets slip ("运费显" for 运费险, "退宽"
/// for 退款): each of its content characters is in the evidence, or sounds,
/// with a neighbour of it in the question, like a pair of characters the
/// evidence has ("费显" as 费险), and at least one is heard that way. One
/// syllable alone would match too much.
fn sounds_like(term: &str, evidence: &str, question: &str, heard: &HashSet<(&str, &str)>) -> bool {
    let asked: Vec<char> = question.chars().collect();
    let Some(start) = asked
        .windows(term.chars().count())
        .position(|w| w.iter().copied().eq(term.chars()))
    else {
        return false;
    };
    let sounds_right = |i: usize| {
        let before = i.checked_sub(1).map(|j| [asked[j], asked[i]]);
        let after = asked.get(i + 1).map(|n| [asked[i], *n]);
        [before, after].into_iter().flatten().any(|pair| {
            sound_pairs(&String::from_iter(pair))
                .iter()
                .any(|p| heard.contains(p))
        })
    };
    let mut by_sound = false;
    for (i, c) in asked
        .iter()
        .enumerate()
        .skip(start)
        .take(term.chars().count())
    {
        if !is_cjk(*c) || SINGLE_ZH.contains(*c) || evidence.contains(*c) {
            continue;
        }
        if !sounds_right(i) {
            return false;
        }
        by_sound = true;
    }
    by_sound
}

/// Parts of the day a buyer puts before a clock hour ("下午3点").
const TIMES_OF_DAY: [&str; 11] = [
    "凌晨", "早上", "早晨", "上午", "中午", "下午", "傍晚", "晚上", "夜里", "半夜", "今晚",
];

/// The clock times a question states or asks for (numerals already in
/// digits): an hour with "点" ("3点", "几点"), and the part of the day before
/// it ("下午3点", "晚上10点半", "早上几点").
fn clock_times_in(question: &str) -> Vec<String> {
    let chars: Vec<char> = question.chars().collect();
    let hour = |c: &char| c.is_ascii_digit() || *c == '几';
    let mut times = Vec::new();
    for i in 0..chars.len() {
        if !hour(&chars[i]) || i.checked_sub(1).is_some_and(|j| hour(&chars[j])) {
            continue;
        }
        let digits = chars[i..].iter().take_while(|c| hour(c)).count();
        if digits > 2 || chars.get(i + digits) != Some(&'点') {
            continue;
        }
        let before: String = chars[i.saturating_sub(2)..i].iter().collect();
        let start = if TIMES_OF_DAY.contains(&before.as_str()) {
            i - 2
        } else {
            i
        };
        let mut end = i + digits + 1;
        if chars.get(end).is_some_and(|c| "半钟前后多".contains(*c)) {
            end += 1;
        }
        times.push(chars[start..end].iter().collect());
    }
    times
}

/// Whether a text states a clock time: "16:00" or an hour with "点".
fn states_a_clock_time(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    chars
        .windows(3)
        .any(|w| w[0].is_ascii_digit() && (w[1] == ':' || w[1] == '：') && w[2].is_ascii_digit())
        || chars
            .windows(2)
            .any(|w| w[0].is_ascii_digit() && w[1] == '点')
}

/// Whether `term`, not spoken of itself, is part of a word that is
/// ("托特" of "托特包"), or made of parts that are ("到货" and "时间" of "到货时间").
fn covered_by_others(term: &str, terms: &[String], spoken: &[bool]) -> bool {
    let others = || {
        terms
            .iter()
            .zip(spoken)
            .filter(|(t, s)| **s && t.as_str() != term)
            .map(|(t, _)| t.as_str())
    };
    if others().any(|t| t.contains(term)) {
        return true;
    }
    let chars: Vec<char> = term.chars().collect();
    let mut covered = vec![false; chars.len()];
    for part in others().filter(|t| term.contains(*t)) {
        let part: Vec<char> = part.chars().collect();
        for start in 0..=chars.len().saturating_sub(part.len()) {
            if chars[start..].starts_with(&part) {
                covered[start..start + part.len()].fill(true);
            }
        }
    }
    chars.len() > 1 && covered.iter().all(|c| *c)
}

/// Chinese numerals of two characters or more, any with 十 or 百, and any
/// before a unit, in digits ("双十二" → "双12", "三天" → "3天"); a lone
/// numeral before anything else ("一下", "零下") stays as it is.
pub fn arabic_numerals(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let numeral = |c: char| "零一二两三四五六七八九十百".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if numeral(chars[i]) {
            let len = chars[i..].iter().take_while(|c| numeral(**c)).count();
            let run = &chars[i..i + len];
            let word: String = run.iter().collect();
            let next = chars.get(i + len).copied();
            // "一个", "一块": one of something, not a quantity asked about.
            let before_unit = run != ['一'] && next.is_some_and(|u| UNITS.contains(u) || u == '点');
            // "十分" (very) and "百分之" are words.
            let word_of = matches!(run, ['十'] | ['百']) && next == Some('分');
            if (len >= 2 || matches!(run[0], '十' | '百') || before_unit)
                && !word_of
                && let Some(value) = numeral_value(run)
            {
                out.push_str(&value.to_string());
                i += len;
                continue;
            }
            out.push_str(&word);
            i += len;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// The value of a run of Chinese numerals up to 999 ("十二", "一百二十",
/// "二〇"-free); `None` for a run that is not one number ("一一").
fn numeral_value(run: &[char]) -> Option<u32> {
    let digit = |c: char| {
        "零一二三四五六七八九"
            .find(c)
            .map(|b| (b / 3) as u32)
            .or(if c == '两' { Some(2) } else { None })
    };
    let (mut total, mut current, mut last_unit) = (0u32, None::<u32>, 1000u32);
    for c in run {
        match c {
            '百' | '十' => {
                let unit = if *c == '百' { 100 } else { 10 };
                if unit >= last_unit {
                    return None;
                }
                total += current.unwrap_or(1) * unit;
                current = None;
                last_unit = unit;
            }
            c => {
                if current.is_some() && *c != '零' {
                    return None;
                }
                current = Some(digit(*c)?);
            }
        }
    }
    Some(total + current.unwrap_or(0))
}

/// The answer without marks, spaces, particles and punctuation, lower case.
fn core_text(text: &str) -> String {
    let lower = normalise(text);
    let mut core: String = lower
        .chars()
        .filter(|c| c.is_alphanumeric() || is_cjk(*c))
        .collect();
    for particle in ["亲", "哦", "呢", "呀", "啦", "哈", "喔"] {
        core = core.replace(particle, "");
    }
    core
}

/// A number in `answer` found neither in the entries nor in the question.
/// "48", "1.5", "30%" and Chinese numerals before a unit ("七天", "十五天")
/// all count; list markers ("1. ", "2、") do not.
fn invented_number(answer: &str, evidence: &str, asked: &str) -> Option<String> {
    let known: HashSet<String> = numbers(evidence)
        .into_iter()
        .chain(numbers(asked))
        .collect();
    numbers(&normalise(answer))
        .into_iter()
        .find(|n| !known.contains(n))
}

fn numbers(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || (chars[i] == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())))
            {
                i += 1;
            }
            let digits: String = chars[start..i].iter().collect();
            let line_start = chars[..start]
                .iter()
                .rev()
                .find(|c| !matches!(c, ' ' | '\t'))
                .is_none_or(|c| matches!(c, '\n' | '：' | ':' | '。'));
            let marker = line_start
                && digits.len() == 1
                && matches!(chars.get(i), Some('.' | '、' | ')' | '）'));
            if !marker {
                out.push(canonical(&digits));
            }
            continue;
        }
        if let Some((value, len)) = chinese_number(&chars[i..]) {
            out.push(value.to_string());
            i += len;
            continue;
        }
        i += 1;
    }
    out
}

/// "1.50" and "1.5" are the same number.
fn canonical(digits: &str) -> String {
    if digits.contains('.') {
        digits
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned()
    } else {
        let t = digits.trim_start_matches('0');
        if t.is_empty() { "0" } else { t }.to_owned()
    }
}

/// Units after which a Chinese numeral is a quantity ("七天", "两年", "三十元").
const UNITS: &str = "天日年月周个件次小时分秒元块折倍岁寸码号台只双条斤克米";

/// A Chinese numeral up to 999 followed by a unit: its value and its length.
fn chinese_number(chars: &[char]) -> Option<(u32, usize)> {
    let digit = |c: char| "零一二两三四五六七八九".find(c).map(|_| c);
    let value_of = |c: char| match c {
        '零' => 0,
        '一' => 1,
        '二' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        _ => 9,
    };
    let len = chars
        .iter()
        .take_while(|c| digit(**c).is_some() || matches!(c, '十' | '百'))
        .count();
    if len == 0 || !chars.get(len).is_some_and(|u| UNITS.contains(*u)) {
        return None;
    }
    // "一个", "一下", "一次" say one of something, not a fact; skip lone 一.
    // "十分" (very) and "百分之" are words, not quantities.
    let word: String = chars[..=len].iter().collect();
    if (len == 1 && chars[0] == '一') || matches!(word.as_str(), "十分" | "百分") {
        return None;
    }
    let (mut total, mut current) = (0u32, 0u32);
    for c in &chars[..len] {
        match c {
            '百' => {
                total += current.max(1) * 100;
                current = 0;
            }
            '十' => {
                total += current.max(1) * 10;
                current = 0;
            }
            c => current = value_of(*c),
        }
    }
    Some((total + current, len))
}

/// A product code ("SW-400") or, in a Chinese answer, a Latin word ("Apple")
/// found neither in the entries nor in the question.
fn invented_name(answer: &str, evidence: &str, asked: &str, lang: Lang) -> Option<String> {
    let text = normalise(answer);
    let words = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .map(|w| w.trim_matches('-'))
        .filter(|w| !w.is_empty());
    for word in words {
        let code = word.chars().any(|c| c.is_ascii_alphabetic())
            && word.chars().any(|c| c.is_ascii_digit());
        let latin_in_zh = lang == Lang::Zh && word.len() >= 2 && word.is_ascii();
        if (code || latin_in_zh) && !evidence.contains(word) && !asked.contains(word) {
            return Some(word.to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn grounding() -> &'static Grounding {
        static G: OnceLock<Grounding> = OnceLock::new();
        G.get_or_init(|| Grounding::new(Segmenter::default()))
    }

    const TOTE: &str = "托特包能装下笔记本电脑吗？\n亲，BG-020 托特包尺寸为长 38 cm × 高 30 cm × 宽 12 cm，可以放下 14 英寸及以下的笔记本电脑和 A4 文件。包口有拉链，内部有一个带拉链的内袋和两个开口小袋，可以放手机、钥匙和充电宝哦。";
    const TEE_CARE: &str = "T恤怎么洗？会缩水吗？\n亲，TS-001 是 100% 精梳棉，建议 30℃ 以下冷水洗涤，可以机洗（翻面装洗衣袋），不可漂白、不建议烘干，阴干防晒。首次洗涤可能会有 2%-3% 的轻微缩水，属于纯棉正常现象；深色款前两次建议单独洗哦。";
    const POWER_BANK: &str = "充电宝充满要多久？支持快充吗？\n亲，PB-200 支持 20W PD 双向快充：用 20W 及以上的 PD 充电器给它充电，约 3 小时充满；输出支持 PD 20W 和 QC 18W，可以给手机快充。它有 USB-C 和 USB-A 两个口，可以同时给两台设备充电（同时使用时总输出为 15W）。不建议用来给笔记本电脑充电哦。";
    const RETURNS: &str = "支持七天无理由退货吗？\n亲，自签收次日起 7 天内，吊牌、包装齐全且未穿着洗涤的商品，可以申请无理由退货，寄回运费由买家承担。";
    const DISPATCH_EN: &str = "When will my order ship?\nIn-stock items ship from our Hangzhou warehouse within 48 hours of payment, and orders paid before 16:00 (China time) usually leave the same day, weekends included.";

    fn check(
        answer: &str,
        question: &str,
        entries: &[&str],
        lang: Lang,
    ) -> Result<(), Unsupported> {
        grounding().check(answer, question, entries, lang)
    }

    /// An entry of the demo knowledge base (knowledge/faq/*.yaml) as the bot
    /// sees it in a hit: title and answer, then its other wordings.
    fn demo_entries() -> &'static std::collections::HashMap<String, String> {
        static E: OnceLock<std::collections::HashMap<String, String>> = OnceLock::new();
        E.get_or_init(|| {
            #[derive(serde::Deserialize)]
            struct Faq {
                id: String,
                question: String,
                #[serde(default)]
                similar: Vec<String>,
                answer: String,
                #[serde(default)]
                tags: Vec<String>,
                #[serde(default)]
                products: Vec<String>,
            }
            let mut map = std::collections::HashMap::new();
            for file in std::fs::read_dir("knowledge/faq").unwrap() {
                let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
                let faqs: Vec<Faq> = serde_yaml_ng::from_str(&text).unwrap();
                for f in faqs {
                    let wordings = [f.similar, f.tags, f.products].concat().join("\n");
                    map.insert(f.id, format!("{}\n{}\n{wordings}", f.question, f.answer));
                }
            }
            map
        })
    }

    fn demo_synonyms() -> Synonyms {
        Synonyms::parse(&std::fs::read_to_string("knowledge/synonyms.txt").unwrap_or_default())
    }

    #[derive(serde::Deserialize)]
    struct Retrieval {
        set: String,
        id: String,
        text: String,
        expected: Vec<String>,
        hits: Vec<String>,
    }

    fn retrievals() -> Vec<Retrieval> {
        std::fs::read_to_string("tests/data/bot_retrievals.jsonl")
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The four non-answers with a citation that the first coverage check let
    /// through (`bench bot --claims`, questions #28 #33 #53 #64 of
    /// tests/data/unsupported_claims.jsonl), with the entries they were sent
    /// from, now held to every word of what is asked: "零下" (it shared "下"
    /// with "下载"), "剩" and "克" (single characters, left out before), and
    /// "extended" (an English question that names nothing).
    #[test]
    fn the_recorded_non_answers_the_first_check_let_through_are_not_covered() {
        let g = Grounding::with_synonyms(Segmenter::default(), demo_synonyms());
        let e = demo_entries();
        for (question, entries, lang, recorded) in [
            (
                "手表零下二十度能正常用吗",
                ["product-sw300-compat", "product-sw300-waterproof"],
                Lang::Zh,
                "SW-300 手表支持苹果手机，用「小二运动」App。",
            ),
            (
                "托特包还剩几个",
                ["product-bg020-size", "product-bg020-size"],
                Lang::Zh,
                "亲，BG-020 托特包尺寸为长 38 cm × 高 30 cm × 宽 12 cm，可以放下 14 英寸及以下的笔记本电脑和 A4 文件。",
            ),
            (
                "充电宝重多少克",
                ["product-pb200-charging", "product-pb200-airline"],
                Lang::Zh,
                "亲，PB-200 支持 20W PD 双向快充：用 20W 及以上的 PD 充电器给它充电，约 3 小时充满。",
            ),
            (
                "can i buy an extended warranty for the watch?",
                ["en-warranty", "en-watch-waterproof"],
                Lang::En,
                "EB-100 earbuds, PB-200 power banks and SW-300 smart watches have a 1-year warranty from the delivery date.",
            ),
        ] {
            let texts: Vec<&str> = entries.iter().map(|id| e[*id].as_str()).collect();
            assert!(
                !g.covers(question, &texts, lang),
                "{question}: {recorded} {:?}",
                g.coverage_terms(question)
            );
        }
        // What they do name still counts: the same entries answer these.
        for (question, entry, lang) in [
            ("托特包能装下电脑吗", "product-bg020-size", Lang::Zh),
            ("充电宝充满要多久", "product-pb200-charging", Lang::Zh),
            (
                "how long is the warranty on the watch",
                "en-warranty",
                Lang::En,
            ),
        ] {
            assert!(
                g.covers(question, &[e[entry].as_str()], lang),
                "{question}: {:?}",
                g.unnamed(question, &[e[entry].as_str()], lang)
            );
        }
    }

    #[test]
    fn an_entrys_wordings_numerals_and_the_shops_synonyms_count_as_spoken_of() {
        let g = Grounding::with_synonyms(Segmenter::default(), demo_synonyms());
        let e = demo_entries();
        // "到广州大概多久" is a wording of the delivery-time entry.
        assert!(g.covers(
            "在广州 正常几天到货",
            &[e["shipping-delivery-time"].as_str()],
            Lang::Zh
        ));
        // "双十二" is "双12".
        assert!(g.covers(
            "双十二满多少减多少",
            &[e["promo-double12-2026"].as_str()],
            Lang::Zh
        ));
        // "洗衣机" is "机洗"; "顺风" is the buyers' spelling of "顺丰".
        assert!(g.covers(
            "鞋子能放洗衣机里洗不",
            &[e["product-sn010-care"].as_str()],
            Lang::Zh
        ));
        assert!(g.covers(
            "发的啥快递呀 能发顺风不",
            &[e["shipping-carriers"].as_str()],
            Lang::Zh
        ));
        // Without the synonyms "短袖" is a word the entry never says.
        let plain = Grounding::new(Segmenter::default());
        let tee = "T恤的尺码表是怎样的？\n尺码 S、M、L、XL、XXL。";
        assert!(!plain.covers("短袖有哪些尺码", &[tee], Lang::Zh));
        let short =
            Grounding::with_synonyms(Segmenter::default(), Synonyms::parse("T恤 短袖 # 同一件"));
        assert!(short.covers("短袖有哪些尺码", &[tee], Lang::Zh));
        assert_eq!(
            arabic_numerals("双十二 二十度 一百二十 三天 十分 一下 零下"),
            "双12 20度 120 3天 十分 一下 零下"
        );
    }

    /// Every case of the dev, held-out and claims sets whose retrieval would
    /// reach the coverage check (tests/data/bot_retrievals.jsonl: the best two
    /// entries recorded with `xiaoer eval faq` on the demo FAQ): the in-scope
    /// ones whose right entry came first must mostly be covered, the claims
    /// (questions the KB does not answer) must mostly not.
    #[test]
    fn coverage_on_the_recorded_retrievals() {
        let g = Grounding::with_synonyms(Segmenter::default(), demo_synonyms());
        let entries = demo_entries();
        let (mut right, mut covered, mut claims, mut claims_covered) = (0, 0, 0, 0);
        for r in retrievals() {
            let texts: Vec<&str> = r.hits.iter().map(|h| entries[h].as_str()).collect();
            let lang = Lang::detect(&r.text);
            let unnamed = g.unnamed(&r.text, &texts, lang);
            if r.set == "claims" {
                claims += 1;
                if unnamed.is_empty() {
                    claims_covered += 1;
                    eprintln!("CLAIM COVERED {} {} {:?}", r.id, r.text, r.hits);
                }
            } else if r.expected.contains(&r.hits[0]) {
                right += 1;
                if unnamed.is_empty() {
                    covered += 1;
                } else {
                    eprintln!("MISS {} {} {:?} {:?}", r.id, r.text, unnamed, r.hits);
                }
            }
        }
        eprintln!(
            "in scope, right entry first: {covered}/{right} covered; claims: {claims_covered}/{claims} covered"
        );
        // Measured when written: 144/153 and 4/38 (each printed above); 148/153
        // with clock times and chat spellings, the claims unchanged.
        assert!(covered * 100 >= right * 92, "{covered}/{right}");
        assert!(claims_covered <= 4, "{claims_covered}/{claims}");
    }

    #[test]
    fn a_paraphrase_of_the_entry_is_supported() {
        assert_eq!(
            check(
                "可以的，BG-020 托特包能放下 14 英寸以下的笔记本电脑，还能装 A4 文件。",
                "包包能装电脑吗",
                &[TOTE],
                Lang::Zh
            ),
            Ok(())
        );
        assert_eq!(
            check(
                "TS-001 建议用 30℃ 以下的冷水洗，可以机洗但不要烘干，第一次洗可能轻微缩水 2%-3%。",
                "T恤能用洗衣机洗吗",
                &[TEE_CARE],
                Lang::Zh
            ),
            Ok(())
        );
        assert_eq!(
            check(
                "签收后七天内，吊牌和包装齐全、没穿过没洗过的，可以申请无理由退货，寄回运费由买家承担。",
                "鞋子买大了能退不",
                &[RETURNS],
                Lang::Zh
            ),
            Ok(())
        );
        assert_eq!(
            check(
                "In-stock items leave our Hangzhou warehouse within 48 hours of payment; orders paid before 16:00 usually ship the same day.",
                "will my order go out today",
                &[DISPATCH_EN],
                Lang::En
            ),
            Ok(())
        );
    }

    #[test]
    fn a_sentence_copied_from_the_entry_is_supported_even_when_it_echoes_the_question() {
        assert_eq!(
            check(
                "不建议用来给笔记本电脑充电哦。",
                "充电宝能给笔记本电脑充电吗",
                &[POWER_BANK],
                Lang::Zh
            ),
            Ok(())
        );
    }

    #[test]
    fn invented_material_is_unsupported() {
        // The issue's cases: facts the entries do not hold, citing an unrelated entry.
        assert!(matches!(
            check(
                "包包是真皮的，质感很好。",
                "包包是真皮的吗",
                &[TOTE],
                Lang::Zh
            ),
            Err(Unsupported::InventedContent { .. } | Unsupported::RestatesQuestion)
        ));
        assert!(matches!(
            check(
                "T恤有黑色、白色和灰色三种颜色可选。",
                "T恤有几种颜色",
                &[TEE_CARE],
                Lang::Zh
            ),
            Err(Unsupported::InventedContent { .. })
        ));
        assert!(matches!(
            check(
                "Yes, the tote is made of genuine Italian leather with a lifetime guarantee.",
                "is the tote real leather",
                &[TOTE],
                Lang::En
            ),
            Err(Unsupported::InventedContent { .. })
        ));
    }

    #[test]
    fn a_claim_about_something_the_entries_never_mention_is_unsupported() {
        const OVERSEAS: &str = "可以寄到海外或者港澳台吗？\n亲，通过顺丰国际配送：香港、澳门、台湾 3-5 个工作日；日本、韩国、新加坡、马来西亚 5-8 个工作日；美国、加拿大、英国、澳大利亚 7-12 个工作日。国际运费按重量和目的地计算，在结算页显示。";
        assert!(matches!(
            check(
                "寄往德国需要 7-12 个工作日，运费按重量计算。",
                "寄德国要多少天",
                &[OVERSEAS],
                Lang::Zh
            ),
            Err(Unsupported::InventedContent { .. })
        ));
        assert!(matches!(
            check(
                "T恤的尺码表是S、M、L、XL、XXL，L码的T恤还有库存。",
                "L码的T恤还有库存吗",
                &["T恤的尺码表是怎样的？\n尺码 S、M、L、XL、XXL，胸围 100-116 cm。"],
                Lang::Zh
            ),
            Err(Unsupported::InventedContent { .. })
        ));
        // The same entry does answer a place it lists.
        assert_eq!(
            check(
                "寄往日本通过顺丰国际配送，一般 5-8 个工作日送达，运费按重量在结算页显示。",
                "寄日本要多少天",
                &[OVERSEAS],
                Lang::Zh
            ),
            Ok(())
        );
    }

    #[test]
    fn a_homophone_typed_for_the_entrys_word_is_still_its_word() {
        let g = grounding();
        let freight = "运费险怎么理赔？能赔多少？\n退货险赔多少钱\n亲，退货时运费险按首重赔付。";
        let refund = "退款多久能到账？\n亲，退款原路退回，一般 1-3 个工作日到账。";
        for (question, entry) in [("运费显能赔多少钱", freight), ("退宽多久能到账", refund)]
        {
            let unnamed = g.unnamed(question, &[entry], Lang::Zh);
            assert!(unnamed.is_empty(), "{question}: {unnamed:?}");
        }
        // A homophone of no word of the entry's is not its word.
        assert!(!g.covers("运费显示在哪", &[refund], Lang::Zh));
        // Nor is a word that sounds like nothing the entry has.
        assert!(!g.covers("包包是真皮的吗", &[TOTE], Lang::Zh));
        assert!(!g.covers("托特包能定制logo吗", &[TOTE], Lang::Zh));
    }

    #[test]
    fn a_shopping_festival_named_by_its_date_is_what_is_asked() {
        assert_eq!(festival_names("双11有啥优惠"), ["双11"]);
        assert_eq!(
            festival_names(&arabic_numerals("双十二和双11")),
            ["双12", "双11"]
        );
        assert!(festival_names("身高172 体重65公斤 满200减30 买了2双").is_empty());
        let g = grounding();
        let double12 = "双12有什么优惠活动？\n亲，双12 当天全场每满 200 减 30。";
        assert!(!g.covers("双11有啥优惠", &[double12], Lang::Zh));
        assert!(g.covers("双12有啥优惠", &[double12], Lang::Zh));
        assert!(g.covers("双十二有啥优惠", &[double12], Lang::Zh));
        assert!(g.covers("满200减30吗", &[double12], Lang::Zh));
        // Another entry naming 双11 does not make the 双12 entry speak of it.
        let dispatch = "下单后多久发货？\n亲，双11、双12 等大促期间付款后 72 小时内发货。";
        assert!(!g.covers("双11有啥优惠", &[double12, dispatch], Lang::Zh));
        assert!(g.covers("双11期间多久发货", &[dispatch, double12], Lang::Zh));
        // An answer that puts the 双12 entry's offer on 双11 is not grounded.
        let moved = g.check(
            "双11当天全场每满200减30。",
            "双11有啥优惠",
            &[double12],
            Lang::Zh,
        );
        assert!(
            matches!(moved, Err(Unsupported::InventedContent { .. })),
            "{moved:?}"
        );
        let together = g.check(
            "双11当天全场每满200减30。",
            "双11有啥优惠",
            &[double12, dispatch],
            Lang::Zh,
        );
        assert!(together.is_err(), "{together:?}");
        assert_eq!(
            g.check(
                "双12当天全场每满200减30。",
                "双12有啥优惠",
                &[double12],
                Lang::Zh
            ),
            Ok(())
        );
    }

    /// What the bot falls back on when the model is late: the best entry
    /// alone must speak of everything asked.
    #[test]
    fn one_entry_covers_a_question_only_when_it_speaks_of_every_term() {
        let g = grounding();
        assert!(g.covers("托特包能装笔记本电脑吗", &[TOTE], Lang::Zh));
        assert!(g.covers("When will my order ship?", &[DISPATCH_EN], Lang::En));
        assert!(!g.covers(
            "寄德国要多少天",
            &["可以寄到海外吗？\n亲，日本、韩国 5-8 个工作日。"],
            Lang::Zh
        ));
        assert!(!g.covers("充电宝能给手表充电吗", &[POWER_BANK], Lang::Zh));
        assert!(!g.covers("Do you ship to Brazil?", &[DISPATCH_EN], Lang::En));
    }

    /// "下午三点" against "16:00": an entry that states a clock time speaks of
    /// the one a buyer names, the part of the day with it; a part of the day
    /// named alone, or to an entry with no clock time, is still unnamed.
    #[test]
    fn a_clock_time_is_spoken_of_by_an_entry_that_states_one() {
        let g = Grounding::with_synonyms(Segmenter::default(), demo_synonyms());
        let dispatch = demo_entries()["shipping-dispatch-time"].as_str();
        for question in [
            "今天下午三点拍的 今天能发走吗",
            "晚上10点半付款 今天能发吗",
            "上午9点下单当天发吗",
            "早上几点前付款能当天发",
        ] {
            assert!(
                g.covers(question, &[dispatch], Lang::Zh),
                "{question}: {:?}",
                g.unnamed(question, &[dispatch], Lang::Zh)
            );
        }
        assert!(!g.covers("晚上能发货吗", &[dispatch], Lang::Zh));
        let no_clock = "下单后多久发货？\n亲，付款后 48 小时内发货。";
        assert!(!g.covers("下午三点拍的今天能发吗", &[no_clock], Lang::Zh));
        assert_eq!(
            clock_times_in("今天下午3点拍的 晚上10点半呢 3点钟 12345点 早上几点"),
            ["下午3点", "晚上10点半", "3点钟", "早上几点"]
        );
        assert!(states_a_clock_time("每天 16:00 前付款"));
        assert!(states_a_clock_time("晚上 9点 以后"));
        assert!(!states_a_clock_time("48 小时内发货"));
    }

    /// "can u ship to 新加坡": chat spellings of function words are not what is asked.
    #[test]
    fn chat_spellings_of_function_words_are_not_what_is_asked() {
        let g = Grounding::with_synonyms(Segmenter::default(), demo_synonyms());
        let overseas = demo_entries()["shipping-overseas"].as_str();
        assert!(
            g.covers("can u ship to 新加坡", &[overseas], Lang::Zh),
            "{:?}",
            g.unnamed("can u ship to 新加坡", &[overseas], Lang::Zh)
        );
        assert!(!g.covers("can u ship to 巴西", &[overseas], Lang::Zh));
    }

    #[test]
    fn entries_that_never_touch_what_is_asked_do_not_cover_the_question() {
        let g = grounding();
        assert!(!g.covers("托特包能定制logo吗", &[TOTE], Lang::Zh));
        assert!(!g.covers("手表能刷公交卡吗", &[POWER_BANK], Lang::Zh));
        assert!(g.covers("包包能装电脑吗", &[TOTE], Lang::Zh));
        // "服" is in none of its text; "衣服可以机洗吗", a wording of the entry, has it.
        assert!(!g.covers("衣服洗了会缩水吗", &[TEE_CARE], Lang::Zh));
        assert!(g.covers(
            "衣服洗了会缩水吗",
            &[&format!("{TEE_CARE}\n衣服可以机洗吗")],
            Lang::Zh
        ));
        // Greetings and "may I ask" are no part of what is asked.
        assert!(g.covers("你好，请问什么时候发货？", &[DISPATCH_ZH], Lang::Zh));
        // A policy entry that never names shoes does not on its own say they
        // are covered; with the exchange entry (服装和鞋子) beside it, it does.
        assert!(!g.covers("鞋子买大了可以退货吗", &[RETURNS], Lang::Zh));
        assert!(
            g.covers("鞋子买大了可以退货吗", &[RETURNS, EXCHANGE], Lang::Zh),
            "{:?}",
            g.unnamed("鞋子买大了可以退货吗", &[RETURNS, EXCHANGE], Lang::Zh)
        );
        // An English question is held to every word that means something.
        assert!(!g.covers("can I get a logo printed", &[TOTE], Lang::En));
    }

    const DISPATCH_ZH: &str = "发货时间 / When do you ship\n付款后48小时内发货，节假日顺延。We ship within 48 hours of payment.";
    const EARBUDS_BATTERY: &str = "EB-100 耳机续航多久？防水吗？\n亲，EB-100 耳机单次可连续听歌约 6 小时，配合充电仓总续航约 24 小时；充电仓用 USB-C 充电，约 1.5 小时充满，快充 10 分钟可听 1 小时。 防水等级是 IPX4，可以防汗、防溅水，运动出汗没问题，但不能戴着游泳或洗澡哦。";
    const WATCH_COMPAT: &str = "SW-300 手表支持苹果手机吗？用什么 App？\n亲，SW-300 支持 Android 8.0 及以上、iOS 13 及以上的手机。在应用商店下载「小二运动」App，打开蓝牙后按 App 提示扫描表盘上的二维码即可绑定。 手表支持来电提醒、消息通知、心率和睡眠监测，暂不支持用手表直接通话；健康数据仅供参考，不能作为医疗诊断依据哦。";
    const EXCHANGE: &str = "尺码不合适可以换货吗？\n亲，服装和鞋子签收次日起 7 天内，在不影响二次销售的前提下可以换一次尺码或颜色（同款同价）。";
    const SHIP_COUNTRIES_EN: &str = "Do you ship internationally? Which countries?\nYes, we ship with SF Express International to Hong Kong, Macau, Taiwan, Singapore, Malaysia, Japan, South Korea, the United States, Canada, the United Kingdom and Australia. Power banks (PB-200) cannot be shipped outside mainland China because of air transport rules for batteries; earbuds and smart watches ship normally.";
    const WATCH_WATERPROOF_EN: &str = "Is the SW-300 watch waterproof? Can I swim with it?\nSW-300 is rated 5ATM, so it is fine for hand washing, rain and swimming in a pool or shallow water. Do not wear it in a hot shower, sauna or hot spring, or for diving or surfing.";

    /// Replies recorded with `xiaoer bench bot --claims` (questions of
    /// tests/data/unsupported_claims.jsonl) before this check: each was sent
    /// as an answer citing the entry here, and none says anything about what
    /// was asked. The entries do not cover those questions, so the bot offers
    /// the closest entries instead. The four the first check let through
    /// (#28 #33 #53 #64) have their own test below.
    #[test]
    fn recorded_non_answers_with_a_citation_come_from_entries_that_do_not_cover_the_question() {
        let g = grounding();
        for (question, entry, recorded) in [
            // #14, curated
            ("充电宝能给ipad充电不", POWER_BANK, POWER_BANK),
            // #20, curated
            ("充电宝支持无线充电吗", POWER_BANK, POWER_BANK),
            // #24, generated
            (
                "耳机打游戏延迟高不高",
                EARBUDS_BATTERY,
                "根据资料，EB-100耳机的单次可连续听歌约6小时，配合充电仓总续航约24小时，防水等级是IPX4，可以防汗、防溅水，运动出汗没问题，但不能戴着游泳或洗澡哦。",
            ),
            // #25, curated
            ("手表能测血氧吗", WATCH_COMPAT, WATCH_COMPAT),
            // #28, generated
            (
                "手表零下二十度能正常用吗",
                WATCH_COMPAT,
                "SW-300 手表支持苹果手机，用「小二运动」App。",
            ),
            // #52, generated
            (
                "手表用的是什么芯片",
                WATCH_COMPAT,
                "SW-300 手表支持苹果手机，用「小二运动」App。",
            ),
        ] {
            assert!(
                !g.covers(question, &[entry], Lang::Zh),
                "{question}: {:?}",
                g.unnamed(question, &[entry], Lang::Zh)
            );
            // The old check passed them: it looks only at what a reply says.
            let answer = recorded.split_once('\n').map_or(recorded, |(_, a)| a);
            assert_eq!(
                g.check(answer, question, &[entry], Lang::Zh),
                Ok(()),
                "{question}"
            );
        }
    }

    #[test]
    fn an_english_question_naming_what_no_entry_mentions_is_not_covered() {
        let g = grounding();
        assert!(!g.covers(
            "Does the SW-300 watch have GPS?",
            &[WATCH_WATERPROOF_EN],
            Lang::En
        ));
        // #59 and #63 of the claims set, both sent as the curated entry here.
        assert!(!g.covers("do you ship to Brazil", &[SHIP_COUNTRIES_EN], Lang::En));
        assert!(g.covers("do you ship to Japan", &[SHIP_COUNTRIES_EN], Lang::En));
        assert!(g.covers(
            "Is the SW-300 fine in the rain?",
            &[WATCH_WATERPROOF_EN],
            Lang::En
        ));
        assert_eq!(
            names_in("Does the SW-300 watch have GPS?"),
            ["sw-300", "gps"]
        );
        assert_eq!(
            names_in("Can I return shoes that are too big? Thanks."),
            Vec::<String>::new()
        );
        assert_eq!(names_in("ship to Brazil. And Peru?"), ["brazil", "peru"]);
    }

    #[test]
    fn an_invented_number_is_unsupported() {
        assert_eq!(
            check(
                "TS-001 建议 30℃ 以下冷水洗涤，首次洗涤可能有 5% 的缩水。",
                "T恤缩水吗",
                &[TEE_CARE],
                Lang::Zh
            ),
            Err(Unsupported::InventedNumber("5".into()))
        );
        assert_eq!(
            check(
                "签收后十五天内可以申请无理由退货，寄回运费由买家承担。",
                "能退货吗",
                &[RETURNS],
                Lang::Zh
            ),
            Err(Unsupported::InventedNumber("15".into()))
        );
        assert_eq!(
            check(
                "Items ship within 24 hours of payment from our Hangzhou warehouse.",
                "when do you ship",
                &[DISPATCH_EN],
                Lang::En
            ),
            Err(Unsupported::InventedNumber("24".into()))
        );
        // Numbers from the entry, also in Chinese numerals, and list markers pass.
        assert_eq!(
            check(
                "1. 签收后七天内可以申请无理由退货；\n2. 吊牌、包装要齐全，寄回运费由买家承担。",
                "能退货吗",
                &[RETURNS],
                Lang::Zh
            ),
            Ok(())
        );
    }

    #[test]
    fn an_invented_model_or_brand_is_unsupported() {
        assert_eq!(
            check(
                "PB-200 支持 20W PD 快充，也可以给 Apple Watch 充电。",
                "充电宝能给手表充电吗",
                &[POWER_BANK],
                Lang::Zh
            ),
            Err(Unsupported::InventedName("apple".into()))
        );
    }

    #[test]
    fn a_stream_stops_at_a_finished_invented_number_but_not_at_a_half_written_one() {
        let g = grounding();
        // "4" may become "48": not yet.
        assert_eq!(
            g.invented_number_so_far("付款后4", "", &[DISPATCH_EN]),
            None
        );
        assert_eq!(
            g.invented_number_so_far("付款后48小时", "", &[DISPATCH_EN]),
            None
        );
        assert_eq!(
            g.invented_number_so_far("付款后24小时", "", &[DISPATCH_EN]),
            Some("24".into())
        );
    }

    #[test]
    fn a_bare_yes_or_no_is_unsupported() {
        for answer in [
            "可以",
            "可以的。",
            "是的！",
            "有",
            "亲，可以哦～",
            "Yes.",
            "Yes, it can!",
        ] {
            let lang = Lang::detect(answer);
            assert_eq!(
                check(answer, "充电宝可以给手表充电吗", &[POWER_BANK], lang),
                Err(Unsupported::BareYesNo),
                "{answer}"
            );
        }
    }

    #[test]
    fn restating_the_question_is_unsupported() {
        for (answer, question, entry) in [
            ("包包是真皮的。", "包包是真皮的吗", TOTE),
            ("T恤有多种颜色。", "T恤有几种颜色", TEE_CARE),
            (
                "充电宝可以给手表充电的哦。",
                "充电宝可以给手表充电吗",
                POWER_BANK,
            ),
            (
                "您好，关于T恤有几种颜色的问题，我们的T恤有颜色。",
                "T恤有几种颜色",
                TEE_CARE,
            ),
        ] {
            assert!(
                matches!(
                    check(answer, question, &[entry], Lang::Zh),
                    Err(Unsupported::RestatesQuestion | Unsupported::InventedContent { .. })
                ),
                "{answer}"
            );
        }
        assert_eq!(
            check(
                "Yes, the tote bag is real leather.",
                "Is the tote bag real leather?",
                &[TOTE],
                Lang::En
            ),
            Err(Unsupported::RestatesQuestion)
        );
    }

    #[test]
    fn an_answer_in_the_wrong_language_is_unsupported() {
        assert_eq!(
            check(
                "In-stock items ship within 48 hours of payment.",
                "什么时候发货",
                &[DISPATCH_EN],
                Lang::Zh
            ),
            Err(Unsupported::WrongLanguage)
        );
        assert_eq!(
            check(
                "付款后 48 小时内从杭州仓发货。",
                "when do you ship",
                &[DISPATCH_EN],
                Lang::En
            ),
            Err(Unsupported::WrongLanguage)
        );
    }

    #[test]
    fn numbers_are_read_in_digits_and_chinese_numerals() {
        assert_eq!(numbers("7 天内，1.50 元，30%"), ["7", "1.5", "30"]);
        assert_eq!(numbers("十五天、两年、三十元、一下"), ["15", "2", "30"]);
        assert_eq!(numbers("十分感谢，百分之百正品"), Vec::<String>::new());
        assert_eq!(numbers("1. 打开\n2、关闭"), Vec::<String>::new());
    }
}
