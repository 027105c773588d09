//! HTML that is safe by construction.
//!
//! Pages are built from [`Html`] values. The only way to put characters into
//! one unescaped is the [`html!`](crate::html!) macro's format string, which
//! must be a literal written in this crate; every argument goes through
//! [`Render`], which escapes text. A format string with a named placeholder
//! (`{id}`, which would capture a variable and print it unescaped) does not
//! compile.

use std::fmt::{self, Write as _};

/// A fragment of HTML whose every piece of text was escaped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Html(String);

impl Html {
    /// An empty fragment.
    pub fn new() -> Html {
        Html(String::new())
    }

    /// Text, escaped.
    pub fn text(text: &str) -> Html {
        let mut out = String::with_capacity(text.len());
        escape_into(text, &mut out);
        Html(out)
    }

    /// Markup written in this crate's source (a format string of
    /// [`html!`](crate::html!)); never text from outside.
    #[doc(hidden)]
    pub fn trusted(markup: String) -> Html {
        Html(markup)
    }

    /// Appends another fragment (or text, escaped).
    pub fn push(&mut self, part: impl Render) {
        let _ = write!(self.0, "{}", Safe(&part));
    }

    /// The markup.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The markup, owned.
    pub fn into_string(self) -> String {
        self.0
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<Html> for Html {
    fn from_iter<I: IntoIterator<Item = Html>>(parts: I) -> Html {
        let mut out = Html::new();
        for part in parts {
            out.0.push_str(&part.0);
        }
        out
    }
}

/// Something that can be written into HTML: fragments as they are, text
/// escaped, numbers as digits.
pub trait Render {
    /// Writes itself, escaped where it is text.
    fn render(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result;
}

impl Render for Html {
    fn render(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str(&self.0)
    }
}

impl Render for str {
    fn render(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut escaped = String::with_capacity(self.len());
        escape_into(self, &mut escaped);
        out.write_str(&escaped)
    }
}

impl Render for String {
    fn render(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_str().render(out)
    }
}

impl<T: Render + ?Sized> Render for &T {
    fn render(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).render(out)
    }
}

impl<T: Render> Render for Option<T> {
    fn render(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Some(value) => value.render(out),
            None => Ok(()),
        }
    }
}

macro_rules! render_number {
    ($($t:ty),*) => {$(
        impl Render for $t {
            fn render(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(out, "{self}")
            }
        }
    )*};
}
render_number!(u8, u16, u32, u64, usize, i64);

/// Adapts a [`Render`] to `format!` (used by [`html!`](crate::html!)).
#[doc(hidden)]
#[derive(Debug)]
pub struct Safe<'a, T: Render + ?Sized>(pub &'a T);

impl<T: Render + ?Sized> fmt::Display for Safe<'_, T> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.render(out)
    }
}

/// Whether a format string has only positional `{}` placeholders (and the
/// `{{`/`}}` escapes): checked when [`html!`](crate::html!) compiles.
#[doc(hidden)]
pub const fn only_positional(format: &str) -> bool {
    let bytes = format.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'{' {
            if i + 1 < bytes.len() && (bytes[i + 1] == b'}' || bytes[i + 1] == b'{') {
                i += 2;
                continue;
            }
            return false;
        }
        i += 1;
    }
    true
}

/// Builds an [`Html`] from a literal format string with `{}` placeholders;
/// each argument is rendered through [`Render`] (text escaped).
#[macro_export]
macro_rules! html {
    ($format:literal $(, $arg:expr)* $(,)?) => {{
        const _: () = assert!(
            $crate::html::only_positional($format),
            "html! takes only positional placeholders"
        );
        $crate::html::Html::trusted(format!($format $(, $crate::html::Safe(&$arg))*))
    }};
}

/// Escapes text for an HTML text node or a quoted attribute value.
pub fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_escaped_and_the_format_is_not() {
        let id = "<script>alert('x')</script>&\"";
        let page = crate::html!("<p class=\"id\">{}</p>", id);
        assert_eq!(
            page.as_str(),
            "<p class=\"id\">&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;</p>"
        );
    }

    #[test]
    fn fragments_nest_without_double_escaping() {
        let inner = crate::html!("<b>{}</b>", "a<b");
        let outer = crate::html!("<p>{} {}</p>", inner, 42u64);
        assert_eq!(outer.as_str(), "<p><b>a&lt;b</b> 42</p>");
    }

    #[test]
    fn named_placeholders_are_recognised() {
        assert!(only_positional("<p>{}</p>{{x}}"));
        assert!(!only_positional("<p>{id}</p>"));
        assert!(!only_positional("<p>{0}</p>"));
        assert!(!only_positional("<p>{:?}</p>"));
    }
}
