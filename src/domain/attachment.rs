//! Attachments: what may be uploaded and how it is named.

use serde::{Deserialize, Serialize};

/// Largest upload accepted, unless settings say otherwise.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;

/// Content-addressed id: a keyed hash (HMAC-SHA256) of the plaintext, hex encoded.
/// Keyed so that the id cannot be used to confirm a guess of a file's content.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AttachmentId(String);

impl AttachmentId {
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = raw.len() == 64
            && raw
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn from_digest(digest: &[u8]) -> Self {
        Self(hex::encode(digest))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The content types buyers and agents may share. Anything else is refused, so the
/// server never serves active content (HTML, SVG with scripts) back to a browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentType {
    Png,
    Jpeg,
    Gif,
    Webp,
    Pdf,
    PlainText,
    Mp4,
    /// Voice messages: what browsers record (WebM/Opus in Chromium and Firefox,
    /// MP4/AAC in Safari) and what phones and apps send (Ogg, MP3, WAV).
    AudioWebm,
    AudioOgg,
    AudioMp4,
    AudioMpeg,
    AudioWav,
}

impl AttachmentType {
    pub fn from_mime(mime: &str) -> Option<Self> {
        let essence = mime
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        Some(match essence.as_str() {
            "image/png" => AttachmentType::Png,
            "image/jpeg" | "image/jpg" => AttachmentType::Jpeg,
            "image/gif" => AttachmentType::Gif,
            "image/webp" => AttachmentType::Webp,
            "application/pdf" => AttachmentType::Pdf,
            "text/plain" => AttachmentType::PlainText,
            "video/mp4" => AttachmentType::Mp4,
            "audio/webm" => AttachmentType::AudioWebm,
            "audio/ogg" | "audio/opus" => AttachmentType::AudioOgg,
            "audio/mp4" | "audio/x-m4a" | "audio/m4a" | "audio/aac" => AttachmentType::AudioMp4,
            "audio/mpeg" | "audio/mp3" => AttachmentType::AudioMpeg,
            "audio/wav" | "audio/x-wav" | "audio/wave" => AttachmentType::AudioWav,
            _ => return None,
        })
    }

    pub fn mime(self) -> &'static str {
        match self {
            AttachmentType::Png => "image/png",
            AttachmentType::Jpeg => "image/jpeg",
            AttachmentType::Gif => "image/gif",
            AttachmentType::Webp => "image/webp",
            AttachmentType::Pdf => "application/pdf",
            AttachmentType::PlainText => "text/plain; charset=utf-8",
            AttachmentType::Mp4 => "video/mp4",
            AttachmentType::AudioWebm => "audio/webm",
            AttachmentType::AudioOgg => "audio/ogg",
            AttachmentType::AudioMp4 => "audio/mp4",
            AttachmentType::AudioMpeg => "audio/mpeg",
            AttachmentType::AudioWav => "audio/wav",
        }
    }

    /// A recording a voice message may point at.
    pub fn is_audio(self) -> bool {
        matches!(
            self,
            AttachmentType::AudioWebm
                | AttachmentType::AudioOgg
                | AttachmentType::AudioMp4
                | AttachmentType::AudioMpeg
                | AttachmentType::AudioWav
        )
    }

    /// The declared type must match the bytes: a "PNG" that is really HTML is refused.
    pub fn matches_content(self, bytes: &[u8]) -> bool {
        match self {
            AttachmentType::Png => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            AttachmentType::Jpeg => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
            AttachmentType::Gif => bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a"),
            AttachmentType::Webp => {
                bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP"
            }
            AttachmentType::Pdf => bytes.starts_with(b"%PDF-"),
            AttachmentType::PlainText => std::str::from_utf8(bytes).is_ok(),
            AttachmentType::Mp4 | AttachmentType::AudioMp4 => {
                bytes.len() >= 8 && &bytes[4..8] == b"ftyp"
            }
            AttachmentType::AudioWebm => bytes.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]),
            AttachmentType::AudioOgg => bytes.starts_with(b"OggS"),
            AttachmentType::AudioMpeg => {
                bytes.starts_with(b"ID3")
                    || (bytes.len() >= 2 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0)
            }
            AttachmentType::AudioWav => {
                bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WAVE"
            }
        }
    }
}

/// Where an attachment was shared, which says who may be served it.
#[derive(Debug, Clone, Copy)]
pub enum AttachmentOwner<'a> {
    /// The conversation's participants.
    Conversation(&'a str),
    /// Staff who may see the ticket; its buyer too when `public`.
    Ticket {
        ticket_id: &'a str,
        public: bool,
        /// 'buyer', 'chat' or 'staff:<id>'.
        added_by: &'a str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_not_an_accepted_type() {
        assert!(AttachmentType::from_mime("text/html").is_none());
        assert!(AttachmentType::from_mime("image/svg+xml").is_none());
    }

    #[test]
    fn declared_type_must_match_magic_bytes() {
        let png = AttachmentType::from_mime("image/png").unwrap();
        assert!(png.matches_content(b"\x89PNG\r\n\x1a\nrest"));
        assert!(!png.matches_content(b"<html><script>"));
    }

    #[test]
    fn recordings_are_audio_and_must_be_what_they_say() {
        let webm = AttachmentType::from_mime("audio/webm;codecs=opus").unwrap();
        assert!(webm.is_audio());
        assert!(webm.matches_content(&[0x1A, 0x45, 0xDF, 0xA3, 0x9F]));
        assert!(!webm.matches_content(b"OggS"));
        let wav = AttachmentType::from_mime("audio/wav").unwrap();
        assert!(wav.matches_content(b"RIFF\x24\0\0\0WAVEfmt "));
        assert!(
            !wav.matches_content(b"RIFF\x24\0\0\0WEBPVP8 "),
            "a picture is not a recording"
        );
        assert!(
            AttachmentType::from_mime("audio/mpeg")
                .unwrap()
                .matches_content(b"ID3\x04")
        );
        assert!(!AttachmentType::from_mime("image/png").unwrap().is_audio());
        assert!(AttachmentType::from_mime("audio/x-aiff").is_none());
    }

    #[test]
    fn attachment_ids_are_lowercase_sha256_hex() {
        assert!(AttachmentId::parse(&"0f".repeat(32)).is_some());
        assert!(AttachmentId::parse(&"0F".repeat(32)).is_none());
        assert!(AttachmentId::parse("../../secret").is_none());
    }
}
