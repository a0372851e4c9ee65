//! Which lines an evaluation sends: the cursor's line, the selection (every line it touches), the
//! paragraph around the cursor (the block between blank lines) or the whole buffer. Positions are
//! egui's: char indices into the buffer; lines are numbered from 1 like error messages.

/// A run of whole lines of the buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// First line, 1-based.
    pub first_line: usize,
    /// Last line, 1-based, inclusive.
    pub last_line: usize,
    /// The lines' text, joined by `\n` (no trailing newline).
    pub text: String,
}

/// Byte offset of char index `c` (clamped to the end of the text).
pub fn byte_of_char(text: &str, c: usize) -> usize {
    text.char_indices()
        .nth(c)
        .map(|(b, _)| b)
        .unwrap_or(text.len())
}

/// Char index of byte offset `b` (clamped; a byte inside a char counts as that char).
pub fn char_of_byte(text: &str, b: usize) -> usize {
    text.char_indices().take_while(|(i, _)| *i < b).count()
}

/// 1-based line of char index `c`.
pub fn line_of_char(text: &str, c: usize) -> usize {
    let b = byte_of_char(text, c);
    text[..b].bytes().filter(|&x| x == b'\n').count() + 1
}

/// The buffer's lines as the pane numbers them: a trailing newline starts an empty last line
/// (the cursor can be on it), an empty buffer has one line.
pub fn lines(text: &str) -> Vec<&str> {
    text.split('\n').collect()
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

fn region(all: &[&str], first: usize, last: usize) -> Region {
    let last = last.min(all.len()).max(first);
    Region {
        first_line: first,
        last_line: last,
        text: all
            .get(first - 1..last)
            .map(|ls| ls.join("\n"))
            .unwrap_or_default(),
    }
}

/// The line the cursor is on, or every line a selection `[a, b)` (char indices, any order)
/// touches; a selection that ends at the start of a line does not take that line.
pub fn line_or_selection(text: &str, a: usize, b: usize) -> Region {
    let all = lines(text);
    let (lo, hi) = (a.min(b), a.max(b));
    let first = line_of_char(text, lo).min(all.len());
    let mut last = line_of_char(text, hi).min(all.len());
    if hi > lo && last > first {
        let hb = byte_of_char(text, hi);
        if hb > 0 && text.as_bytes().get(hb - 1) == Some(&b'\n') {
            last -= 1;
        }
    }
    region(&all, first, last)
}

/// The block of non-blank lines around the cursor (the cursor's blank line alone if it is on one).
pub fn paragraph(text: &str, cursor: usize) -> Region {
    let all = lines(text);
    let at = line_of_char(text, cursor).min(all.len());
    if is_blank(all[at - 1]) {
        return region(&all, at, at);
    }
    let mut first = at;
    while first > 1 && !is_blank(all[first - 2]) {
        first -= 1;
    }
    let mut last = at;
    while last < all.len() && !is_blank(all[last]) {
        last += 1;
    }
    region(&all, first, last)
}

/// Every line.
pub fn whole(text: &str) -> Region {
    let all = lines(text);
    region(&all, 1, all.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "a : sin\nb : sin\n\nc.x <- a\n# note\n\nd.x <- b\n";

    #[test]
    fn the_cursor_line() {
        let r = line_or_selection(T, 9, 9);
        assert_eq!(
            (r.first_line, r.last_line, r.text.as_str()),
            (2, 2, "b : sin")
        );
        // At the very end, after the trailing newline: the empty line there.
        let end = T.chars().count();
        let r = line_or_selection(T, end, end);
        assert_eq!((r.first_line, r.text.as_str()), (8, ""));
        assert_eq!(line_or_selection(T, end - 1, end - 1).text, "d.x <- b");
    }

    #[test]
    fn a_selection_takes_the_lines_it_touches() {
        let r = line_or_selection(T, 2, 10);
        assert_eq!((r.first_line, r.last_line), (1, 2));
        // Ending at the start of line 3 does not take line 3; order does not matter.
        let r = line_or_selection(T, 16, 0);
        assert_eq!((r.first_line, r.last_line), (1, 2));
        assert_eq!(r.text, "a : sin\nb : sin");
    }

    #[test]
    fn paragraphs_stop_at_blank_lines() {
        let r = paragraph(T, 3);
        assert_eq!((r.first_line, r.last_line), (1, 2));
        let r = paragraph(T, 20);
        assert_eq!(
            (r.first_line, r.last_line, r.text.as_str()),
            (4, 5, "c.x <- a\n# note")
        );
        let r = paragraph(T, 16);
        assert_eq!((r.first_line, r.last_line, r.text.as_str()), (3, 3, ""));
    }

    #[test]
    fn non_ascii_positions_are_chars() {
        let t = "# été\nx.a <- 1";
        assert_eq!(line_of_char(t, 6), 2);
        assert_eq!(line_or_selection(t, 7, 7).text, "x.a <- 1");
        assert_eq!(char_of_byte(t, byte_of_char(t, 4)), 4);
    }

    #[test]
    fn whole_buffer_and_empty_buffer() {
        assert_eq!(whole(T).last_line, 8);
        assert_eq!(whole("").text, "");
        assert_eq!(line_or_selection("", 0, 0).first_line, 1);
    }
}
