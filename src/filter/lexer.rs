//! Tokens of the filter language with their byte spans. Argument tokens are read on demand
//! by the parser ([`Lexer::argument`]) because what ends an argument depends on the term:
//! regex arguments follow mitmproxy (a run of anything but whitespace, `( ) ~ ' "`), value
//! arguments (numbers, sizes, durations, comparisons) also stop at `& | !`.

use std::ops::Range;

use super::ParseError;

/// One token in expression position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `!`
    Not,
    /// `&`
    And,
    /// `|`
    Or,
    /// `~name` (the name without `~`, as written).
    Op(String),
    /// An unquoted word (a bare regex in expression position).
    Word(String),
    /// A quoted string, escapes resolved.
    Quoted(String),
    /// End of input.
    End,
}

/// How an argument is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgMode {
    /// Regex or literal text: stops at whitespace and `( ) ~ ' "`.
    Text,
    /// A number, size, duration or comparison: also stops at `& | !` (after a leading
    /// comparison operator such as `!=`).
    Value,
}

/// An argument: its text (escapes resolved) and whether it was quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    /// The text.
    pub text: String,
    /// Byte span of the argument in the input (quotes included).
    pub span: Range<usize>,
}

/// A cursor over the filter source.
#[derive(Debug)]
pub struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

fn ends_text(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '~' | '\'' | '"')
}

fn ends_value(c: char) -> bool {
    ends_text(c) || matches!(c, '&' | '|' | '!')
}

impl<'a> Lexer<'a> {
    /// A lexer at the start of `src`.
    #[must_use]
    pub fn new(src: &'a str) -> Self {
        Self { src, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn peek_char(&self) -> Option<char> {
        self.rest().chars().next()
    }

    /// Move back to byte offset `pos` (a position this lexer returned earlier).
    pub fn reset(&mut self, pos: usize) {
        self.pos = pos.min(self.src.len());
    }

    /// Current byte offset.
    #[must_use]
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The next token in expression position, without consuming it.
    ///
    /// # Errors
    /// An unclosed quote.
    pub fn peek(&mut self) -> Result<(Tok, Range<usize>), ParseError> {
        let save = self.pos;
        let r = self.next();
        self.pos = save;
        r
    }

    /// The next token in expression position.
    ///
    /// # Errors
    /// An unclosed quote.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<(Tok, Range<usize>), ParseError> {
        self.skip_ws();
        let start = self.pos;
        let Some(c) = self.peek_char() else { return Ok((Tok::End, start..start)) };
        let single = |t: Tok, lx: &mut Self| {
            lx.pos += 1;
            Ok((t, start..start + 1))
        };
        match c {
            '(' => single(Tok::LParen, self),
            ')' => single(Tok::RParen, self),
            '!' => single(Tok::Not, self),
            '&' => single(Tok::And, self),
            '|' => single(Tok::Or, self),
            '~' => {
                self.pos += 1;
                let name_len = self
                    .rest()
                    .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                    .unwrap_or(self.rest().len());
                let name = self.rest().get(..name_len).unwrap_or("").to_string();
                self.pos += name_len;
                Ok((Tok::Op(name), start..self.pos))
            }
            '"' | '\'' => {
                let a = self.quoted()?;
                Ok((Tok::Quoted(a.text), a.span))
            }
            _ => {
                let len = self.rest().find(ends_text).unwrap_or(self.rest().len());
                self.pos += len;
                Ok((Tok::Word(self.src.get(start..self.pos).unwrap_or("").to_string()), start..self.pos))
            }
        }
    }

    /// Read a quoted string starting at the current position (which holds `'` or `"`).
    /// Inside, `\` followed by the quote character or by `\` stands for that character;
    /// any other `\x` is kept as written (so regex escapes such as `\d` work).
    fn quoted(&mut self) -> Result<Arg, ParseError> {
        let start = self.pos;
        let mut chars = self.rest().char_indices();
        let Some((_, q)) = chars.next() else {
            return Err(ParseError::new(start..start, "expected a quoted string"));
        };
        let mut out = String::new();
        let mut escaped = false;
        for (i, c) in chars {
            if escaped {
                if c != q && c != '\\' {
                    out.push('\\');
                }
                out.push(c);
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                self.pos = start + i + c.len_utf8();
                return Ok(Arg { text: out, span: start..self.pos });
            } else {
                out.push(c);
            }
        }
        let end = self.src.len();
        self.pos = end;
        Err(ParseError::new(start..end, format!("unclosed quote: add a closing {q}")))
    }

    /// Read the argument of a term. Returns `None` (consuming nothing but whitespace) when
    /// what follows cannot be an argument: end of input, `(`, `)`, `~`, or (in value mode)
    /// `&`, `|`.
    ///
    /// # Errors
    /// An unclosed quote.
    pub fn argument(&mut self, mode: ArgMode) -> Result<Option<Arg>, ParseError> {
        let save = self.pos;
        self.skip_ws();
        let start = self.pos;
        let Some(c) = self.peek_char() else {
            self.pos = save;
            return Ok(None);
        };
        if c == '"' || c == '\'' {
            return self.quoted().map(Some);
        }
        if matches!(c, '(' | ')' | '~') {
            self.pos = save;
            return Ok(None);
        }
        match mode {
            ArgMode::Text => {
                let len = self.rest().find(ends_text).unwrap_or(self.rest().len());
                self.pos += len;
            }
            ArgMode::Value => {
                // A leading comparison operator, optionally followed by spaces.
                let rest = self.rest();
                let op_len = ["<=", ">=", "!=", "==", "<", ">", "="]
                    .iter()
                    .find(|op| rest.starts_with(**op))
                    .map_or(0, |op| op.len());
                if op_len == 0 && matches!(c, '&' | '|' | '!') {
                    self.pos = save;
                    return Ok(None);
                }
                self.pos += op_len;
                if op_len > 0 {
                    self.skip_ws();
                }
                let len = self.rest().find(ends_value).unwrap_or(self.rest().len());
                self.pos += len;
            }
        }
        let text = self.src.get(start..self.pos).unwrap_or("").to_string();
        Ok(Some(Arg { text, span: start..self.pos }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        let mut lx = Lexer::new(s);
        let mut v = Vec::new();
        loop {
            let (t, _) = lx.next().unwrap();
            if t == Tok::End {
                return v;
            }
            v.push(t);
        }
    }

    #[test]
    fn operators_words_and_quotes_split() {
        assert_eq!(
            toks("!(~q & foo|bar) 'a b'"),
            vec![
                Tok::Not,
                Tok::LParen,
                Tok::Op("q".into()),
                Tok::And,
                Tok::Word("foo|bar".into()),
                Tok::RParen,
                Tok::Quoted("a b".into())
            ]
        );
    }

    #[test]
    fn quote_escapes_keep_regex_escapes() {
        assert_eq!(toks(r#""a\"b\d\\""#), vec![Tok::Quoted(r#"a"b\d\"#.into())]);
        assert_eq!(toks(r"'it\'s'"), vec![Tok::Quoted("it's".into())]);
    }

    #[test]
    fn unclosed_quote_spans_to_end() {
        assert_eq!(Lexer::new("~u 'abc").argument(ArgMode::Text).unwrap(), None, "~ starts a term");
        let mut lx = Lexer::new("'abc");
        let err = lx.next().unwrap_err();
        assert_eq!(err.span, 0..4);
    }

    #[test]
    fn value_arguments_stop_at_operators_and_take_comparisons() {
        let mut lx = Lexer::new(">= 400|~c 200");
        assert_eq!(lx.argument(ArgMode::Value).unwrap().unwrap().text, ">= 400");
        assert_eq!(lx.next().unwrap().0, Tok::Or);
        let mut lx = Lexer::new("!=404");
        assert_eq!(lx.argument(ArgMode::Value).unwrap().unwrap().text, "!=404");
        let mut lx = Lexer::new("& x");
        assert_eq!(lx.argument(ArgMode::Value).unwrap(), None);
        assert_eq!(lx.pos(), 0);
    }
}
