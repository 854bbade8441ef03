//! The filter language: mitmproxy's expressions (`~u ~m ~c ~h … ! & |`) plus status classes,
//! comparisons (`~dur >250ms`), `~src`/`~dst`, `~client`. Lexer, parser with byte-span
//! errors, evaluation on an [`crate::model::Exchange`].
