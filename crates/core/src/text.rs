//! Text limits shared by every place that writes for humans or for an AWS API with a size cap.

/// The marker appended when text was cut.
pub const TRUNCATION_MARKER: &str = "… [truncated]";

/// `text` cut to at most `max_chars` characters (Unicode scalar values, never mid-character),
/// with [`TRUNCATION_MARKER`] at the end when anything was cut. The marker counts towards the
/// limit, so the result always fits.
pub fn truncate_chars(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let marker_len = TRUNCATION_MARKER.chars().count();
    if max_chars <= marker_len {
        return text.chars().take(max_chars).collect();
    }
    let mut out: String = text.chars().take(max_chars - marker_len).collect();
    out.push_str(TRUNCATION_MARKER);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_text_is_untouched_and_long_text_is_marked() {
        assert_eq!(truncate_chars("héllo", 5), "héllo");
        let cut = truncate_chars(&"é".repeat(50), 20);
        assert_eq!(cut.chars().count(), 20);
        assert!(cut.ends_with(TRUNCATION_MARKER));
        assert_eq!(truncate_chars("abcdef", 3), "abc");
    }

    proptest! {
        #[test]
        fn never_longer_than_the_limit(text in ".{0,300}", max in 0usize..200) {
            let cut = truncate_chars(&text, max);
            prop_assert!(cut.chars().count() <= max);
            if text.chars().count() <= max { prop_assert_eq!(cut, text); }
        }
    }
}
