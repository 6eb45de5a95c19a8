//! Buyer personal data shown by need: masked forms for staff who have not asked
//! to see a value, and redaction of personal values typed into free text (the
//! questions knowledge managers read).

/// `13812341234` → `138****1234`; shorter numbers keep only their last two digits.
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if digits.len() >= 7 {
        let head: String = digits[..3].iter().collect();
        let tail: String = digits[digits.len() - 4..].iter().collect();
        format!("{head}****{tail}")
    } else {
        let keep = digits.len().min(2);
        let tail: String = digits[digits.len() - keep..].iter().collect();
        format!("****{tail}")
    }
}

/// The region stays (enough to route a parcel question), the street and number
/// go: everything after the last 省/市/区/县 within the first half is hidden.
pub fn mask_address(address: &str) -> String {
    let chars: Vec<char> = address.chars().collect();
    let half = chars.len() / 2;
    let keep = chars[..half]
        .iter()
        .rposition(|c| matches!(c, '省' | '市' | '区' | '县'))
        .map(|i| i + 1)
        .unwrap_or(0);
    let head: String = chars[..keep].iter().collect();
    format!("{head}****")
}

/// `欧阳娜娜` → `欧***`, `Alice Smith` → `A****`.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => format!("{first}{}", "*".repeat(chars.count().clamp(1, 4))),
        None => String::new(),
    }
}

/// Free text with phone numbers (also spaced or dashed), mainland ID numbers,
/// e-mail addresses and street addresses replaced by a label, and any of the
/// buyer's own stored values (`known`) removed wherever they appear.
pub fn redact_text(text: &str, known: &[&str]) -> String {
    let mut out = text.to_owned();
    for value in known
        .iter()
        .map(|v| v.trim())
        .filter(|v| v.chars().count() >= 2)
    {
        out = out.replace(value, "[个人信息]");
    }
    let out = replace_digit_runs(&out);
    let out = replace_emails(&out);
    replace_addresses(&out)
}

/// Digit runs (spaces and dashes inside allowed) of 11 digits or more: phones
/// (with or without +86) and ID numbers (17 digits and a check digit or X).
fn replace_digit_runs(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let starts_number =
            chars[i].is_ascii_digit() || (chars[i] == '+' && next_is_digit(&chars, i));
        if !starts_number {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        let mut digits = 0;
        let mut end = i;
        while i < chars.len() {
            let c = chars[i];
            if c.is_ascii_digit() {
                digits += 1;
                end = i + 1;
            } else if (c == 'X' || c == 'x') && digits == 17 {
                digits += 1;
                end = i + 1;
                i += 1;
                break;
            } else if !(matches!(c, ' ' | '-') || (c == '+' && i == start)) {
                break;
            }
            i += 1;
        }
        let run: String = chars[start..end].iter().collect();
        match digits {
            11..=13 => out.push_str("[电话]"),
            15 | 18 => out.push_str("[证件号]"),
            _ => out.push_str(&run),
        }
        out.extend(&chars[end..i]);
    }
    out
}

fn next_is_digit(chars: &[char], i: usize) -> bool {
    chars.get(i + 1).is_some_and(char::is_ascii_digit)
}

fn replace_emails(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let at = word.find('@');
            let looks_like_mail = at.is_some_and(|at| at > 0 && word[at..].contains('.'));
            if looks_like_mail {
                "[邮箱]".to_owned()
            } else {
                word.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A run of Han characters, digits and spaces that names a road-like place and
/// ends in a house number (…路 478 号, …弄 3 号 502 室) is an address.
fn replace_addresses(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !is_address_char(chars[i]) {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && is_address_char(chars[i]) {
            i += 1;
        }
        let run = &chars[start..i];
        let number_end = run
            .windows(2)
            .rposition(|w| {
                (w[0].is_ascii_digit() || w[0] == ' ') && matches!(w[1], '号' | '室' | '栋' | '幢')
            })
            .map(|p| p + 2);
        let road = |end: usize| {
            run[..end]
                .iter()
                .any(|c| matches!(c, '路' | '街' | '巷' | '弄' | '村' | '道'))
        };
        match number_end {
            Some(end) if road(end) => {
                out.push_str("[地址]");
                out.extend(&run[end..]);
            }
            _ => out.extend(run),
        }
    }
    out
}

fn is_address_char(c: char) -> bool {
    c.is_ascii_digit() || c == ' ' || ('\u{4e00}'..='\u{9fff}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_keep_their_first_three_and_last_four_digits() {
        assert_eq!(mask_phone("13812341234"), "138****1234");
        assert_eq!(mask_phone("138-1234-1234"), "138****1234");
        assert_eq!(mask_phone("12345"), "****45");
    }

    #[test]
    fn addresses_keep_the_region_and_hide_the_street() {
        assert_eq!(
            mask_address("浙江省杭州市西湖区文三路 478 号"),
            "浙江省杭州市西湖区****"
        );
        assert_eq!(mask_address("文三路 478 号"), "****");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name("李"), "李*");
    }

    #[test]
    fn free_text_loses_phones_ids_mails_addresses_and_known_values() {
        let text = "我叫欧阳娜娜，电话 138 1234 5678，身份证 33010619900101123X，\
                    邮箱 nana@example.com 寄到浙江省杭州市西湖区文三路 478 号可以吗";
        let out = redact_text(text, &["欧阳娜娜"]);
        for gone in ["欧阳娜娜", "5678", "330106", "nana@", "文三路", "478"] {
            assert!(!out.contains(gone), "{gone} in {out}");
        }
        assert!(out.contains("[电话]") && out.contains("[证件号]") && out.contains("[地址]"));
        assert!(out.ends_with("[地址]可以吗"), "{out}");
        // Questions without personal data stay as they are.
        let plain = "双11 满300减50 的活动到几号结束？运费怎么算";
        assert_eq!(redact_text(plain, &[]), plain);
    }
}
