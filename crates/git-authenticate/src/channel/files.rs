//! Guix's `<channel>` record, as users write it in a channels file
//! (`~/.config/guix/channels.scm`) and channels write it in the
//! `dependencies` of their `.guix-channel`.
//!
//! A channels file is Scheme code that Guix evaluates; only the plain forms
//! people write are understood here (literals, `list`, `cons`, `cons*`,
//! `append`, `%default-channels`), without evaluating anything: any other
//! expression is refused.

use lexpr::Value;

use crate::channel::introduction::{
    head, string_field, Introduction, IntroductionError, IntroductionForm,
};
use guile_reader::{self as sexp, Datum, SyntaxError};

/// URL of the default `guix` channel (Guix's `%default-channel-url`).
pub const DEFAULT_GUIX_URL: &str = "https://git.guix.gnu.org/guix.git";

/// A channel: where to fetch it and how to authenticate it (Guix's
/// `<channel>` record, minus its source location).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSpec {
    /// Its name (a symbol in Scheme), e.g. `nonguix`.
    pub name: String,
    /// Where to fetch it from.
    pub url: String,
    /// The branch to follow (Guix's default: `master`).
    pub branch: String,
    /// The commit (or tag) to use instead of the branch's tip, if pinned.
    pub commit: Option<String>,
    /// Where authentication starts; `None` for an unauthenticated channel.
    pub introduction: Option<Introduction>,
}

impl ChannelSpec {
    /// Guix's `%default-guix-channel`.
    pub fn guix() -> Self {
        ChannelSpec {
            name: "guix".to_owned(),
            url: DEFAULT_GUIX_URL.to_owned(),
            branch: "master".to_owned(),
            commit: None,
            introduction: Some(Introduction::guix()),
        }
    }

    /// Its introduction, as Guix authenticates it: a `guix` channel at
    /// the default URL without one gets Guix's
    /// (`ensure-default-introduction`).
    pub fn into_introduction(self) -> Result<Introduction, IntroductionError> {
        match self.introduction {
            Some(introduction) => Ok(introduction),
            None if self.name == "guix" && self.url == DEFAULT_GUIX_URL => Ok(Introduction::guix()),
            None => Err(IntroductionError::NoIntroduction { name: self.name }),
        }
    }

    /// Reads `(channel (name 'x) (url "…") …)` as Guix's `channel` macro
    /// takes it: `name` and `url` required, `branch` defaulting to
    /// `master`, `commit` and `introduction` to `#f`; an unknown or
    /// repeated field is an error.
    pub(crate) fn from_code(value: &Value) -> Result<Self, IntroductionError> {
        const FORM: IntroductionForm = IntroductionForm::Channel;
        const FIELDS: [&str; 5] = ["name", "url", "branch", "commit", "introduction"];
        let items = sexp::list(value)
            .filter(|items| head(value) == Some("channel") && !items.is_empty())
            .ok_or_else(|| unexpected(FORM, value))?;
        let mut given: [Option<&Value>; 5] = [None; 5];
        for item in &items[1..] {
            let (field, expression) = match sexp::list(item).as_deref() {
                Some([field, expression]) => (field.as_symbol(), *expression),
                _ => return Err(unexpected(FORM, item)),
            };
            let index = field
                .and_then(|f| FIELDS.iter().position(|known| *known == f))
                .ok_or_else(|| IntroductionError::UnknownField {
                    form: FORM,
                    field: sexp::excerpt(item),
                })?;
            if given[index].replace(expression).is_some() {
                return Err(IntroductionError::DuplicateField {
                    form: FORM,
                    field: FIELDS[index],
                });
            }
        }
        let [name, url, branch, commit, introduction] = given;
        fn required<'v>(
            value: Option<&'v Value>,
            field: &'static str,
        ) -> Result<&'v Value, IntroductionError> {
            value.ok_or(IntroductionError::MissingField { form: FORM, field })
        }
        Ok(ChannelSpec {
            name: quoted_symbol(required(name, "name")?)?,
            url: string_field(required(url, "url")?, FORM, "url")?.to_owned(),
            branch: branch
                .map_or(Ok("master"), |b| string_field(b, FORM, "branch"))?
                .to_owned(),
            commit: optional(commit, |c| Ok(string_field(c, FORM, "commit")?.to_owned()))?,
            introduction: optional(introduction, introduction_expression)?,
        })
    }
}

/// `f` of `value`, unless it is absent or `#f`.
fn optional<T>(
    value: Option<&Value>,
    f: impl FnOnce(&Value) -> Result<T, IntroductionError>,
) -> Result<Option<T>, IntroductionError> {
    match value {
        None | Some(Value::Bool(false)) => Ok(None),
        Some(value) => f(value).map(Some),
    }
}

/// `'name`, the channel name as channels files write it.
fn quoted_symbol(value: &Value) -> Result<String, IntroductionError> {
    match sexp::list(value).as_deref() {
        Some([quote, symbol]) if quote.as_symbol() == Some("quote") => symbol.as_symbol(),
        _ => None,
    }
    .map(str::to_owned)
    .ok_or_else(|| IntroductionError::MalformedField {
        form: IntroductionForm::Channel,
        field: "name",
        expected: "a quoted symbol ('name)",
        found: sexp::excerpt(value),
    })
}

/// The value of an `(introduction …)` field in code.
fn introduction_expression(value: &Value) -> Result<Introduction, IntroductionError> {
    if value.as_symbol() == Some("%guix-channel-introduction") {
        return Ok(Introduction::guix());
    }
    Introduction::from_make_form(value)
}

fn unexpected(expected: IntroductionForm, found: &Value) -> IntroductionError {
    IntroductionError::UnexpectedForm {
        expected,
        found: sexp::excerpt(found),
    }
}

/// The channels a channels file evaluates to, in order.
///
/// ```
/// use git_authenticate::ChannelsFile;
///
/// let file = ChannelsFile::parse(r#"
///   (use-modules (guix channels))
///   (list (channel (name 'mine) (url "https://example.org/mine.git") (branch "main"))
///         %default-guix-channel)"#)?;
/// assert_eq!(file.channels.len(), 2);
/// assert_eq!(file.pick("mine")?.branch, "main");
/// assert!(file.pick("mine")?.introduction.is_none());
/// # Ok::<(), git_authenticate::IntroductionError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelsFile {
    /// The channels, `%default-channels` expanded to Guix's channel.
    pub channels: Vec<ChannelSpec>,
}

impl ChannelsFile {
    /// Reads a channels file: the value of its last expression, as
    /// `guix pull` loads it (earlier ones, such as `use-modules`, are not
    /// looked at).
    pub fn parse(text: &str) -> Result<Self, IntroductionError> {
        Self::from_data(&sexp::read_all_str(text)?)
    }

    pub(crate) fn from_data(data: &[Datum]) -> Result<Self, IntroductionError> {
        let value = data.last().ok_or(SyntaxError::Empty)?;
        let mut channels = Vec::new();
        channel_list(value, &mut channels)?;
        Ok(ChannelsFile { channels })
    }

    /// The channel named `name`. Given several, Guix uses the first,
    /// unless a later one pins a commit and it does not
    /// (`latest-channel-instances`' `more-specific?`).
    pub fn pick(&self, name: &str) -> Result<&ChannelSpec, IntroductionError> {
        let mut named = self.channels.iter().filter(|c| c.name == name);
        let first = named
            .next()
            .ok_or_else(|| IntroductionError::NoSuchChannel {
                name: name.to_owned(),
                available: self.names(),
            })?;
        Ok(named.fold(first, |kept, later| {
            if later.commit.is_some() && kept.commit.is_none() {
                later
            } else {
                kept
            }
        }))
    }

    /// The only channel, for callers that name none.
    pub(crate) fn only(mut self) -> Result<ChannelSpec, IntroductionError> {
        match self.channels.len() {
            1 => Ok(self.channels.remove(0)),
            _ => Err(IntroductionError::AmbiguousChannel {
                available: self.names(),
            }),
        }
    }

    fn names(&self) -> Vec<String> {
        self.channels.iter().map(|c| c.name.clone()).collect()
    }
}

/// Adds the channels `value` evaluates to. Recursion is bounded by the
/// reader's nesting limit.
fn channel_list(value: &Value, out: &mut Vec<ChannelSpec>) -> Result<(), IntroductionError> {
    if value.as_symbol() == Some("%default-channels") {
        out.push(ChannelSpec::guix());
        return Ok(());
    }
    let items =
        sexp::list(value).ok_or_else(|| unexpected(IntroductionForm::ChannelsFile, value))?;
    let arguments = items.get(1..).unwrap_or_default();
    match head(value) {
        Some("list") => arguments.iter().try_for_each(|c| channel(c, out)),
        Some("cons" | "cons*") if !arguments.is_empty() => {
            let (tail, elements) = arguments.split_last().expect("not empty");
            elements.iter().try_for_each(|c| channel(c, out))?;
            channel_list(tail, out)
        }
        Some("append") => arguments.iter().try_for_each(|l| channel_list(l, out)),
        Some("quote") if matches!(arguments, [Value::Null]) => Ok(()),
        _ => Err(unexpected(IntroductionForm::ChannelsFile, value)),
    }
}

/// Adds the channel `value` evaluates to.
fn channel(value: &Value, out: &mut Vec<ChannelSpec>) -> Result<(), IntroductionError> {
    out.push(if value.as_symbol() == Some("%default-guix-channel") {
        ChannelSpec::guix()
    } else {
        ChannelSpec::from_code(value)?
    });
    Ok(())
}

/// Introductions as users write them: these need channel entries, which
/// hold introductions (hence here, not in `introduction.rs`).
impl Introduction {
    /// From any form in which users and channels write an introduction
    /// (the value of the last datum of `text`, as when Guile loads a file):
    ///
    /// * `(make-channel-introduction "COMMIT" (openpgp-fingerprint "FPR"))`;
    /// * `(channel-introduction (version 0) (commit "…") (signer "…"))`, as
    ///   in `.guix-channel`;
    /// * a `(channel (name 'x) (url "…") … (introduction …))` entry;
    /// * a whole channels file holding exactly one channel (else use
    ///   [`Introduction::from_channels_file`]).
    ///
    /// ```
    /// use git_authenticate::Introduction;
    ///
    /// let intro = Introduction::from_channel_form(r#"
    ///   (channel-introduction
    ///     (version 0)
    ///     (commit "9edb3f66fd807b096b48283debdcddccfea34bad")
    ///     (signer "BBB0 2DDF 2CEA F6A8 0D1D  E643 A2A0 6DF2 A33A 54FA"))"#)?;
    /// assert_eq!(intro, Introduction::guix());
    /// # Ok::<(), git_authenticate::IntroductionError>(())
    /// ```
    pub fn from_channel_form(text: &str) -> Result<Self, IntroductionError> {
        let data = sexp::read_all_str(text)?;
        let value = data.last().ok_or(SyntaxError::Empty)?;
        match head(value) {
            Some("make-channel-introduction") => Self::from_make_form(value),
            Some("channel-introduction") => Self::from_data_form(value),
            Some("channel") => ChannelSpec::from_code(value)?.into_introduction(),
            _ => ChannelsFile::from_data(&data)?.only()?.into_introduction(),
        }
    }

    /// The introduction of channel `name` in a channels file (such as
    /// `~/.config/guix/channels.scm`).
    ///
    /// ```
    /// use git_authenticate::Introduction;
    ///
    /// let file = r#"(cons* (channel
    ///                        (name 'nonguix)
    ///                        (url "https://gitlab.com/nonguix/nonguix")
    ///                        (introduction
    ///                         (make-channel-introduction
    ///                          "897c1a470da759236cc11798f4e0a5f7d4d59fbc"
    ///                          (openpgp-fingerprint
    ///                           "2A39 3FFF 68F4 EF7A 3D29  12AF 6F51 20A0 22FB B2D5"))))
    ///                       %default-channels)"#;
    /// let nonguix = Introduction::from_channels_file(file, "nonguix")?;
    /// assert_eq!(nonguix.commit.to_string(), "897c1a470da759236cc11798f4e0a5f7d4d59fbc");
    /// assert_eq!(Introduction::from_channels_file(file, "guix")?, Introduction::guix());
    /// # Ok::<(), git_authenticate::IntroductionError>(())
    /// ```
    pub fn from_channels_file(text: &str, name: &str) -> Result<Self, IntroductionError> {
        ChannelsFile::parse(text)?
            .pick(name)?
            .clone()
            .into_introduction()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_fields_follow_the_channel_macro() {
        let spec = |text: &str| ChannelSpec::from_code(&sexp::read_first_str(text).unwrap());
        let mine = spec("(channel (name 'mine) (url \"u\") (commit #f))").unwrap();
        assert_eq!(mine.branch, "master");
        assert_eq!(mine.commit, None);
        assert!(matches!(
            spec("(channel (url \"u\"))"),
            Err(IntroductionError::MissingField { field: "name", .. })
        ));
        assert!(matches!(
            spec("(channel (name 'a) (name 'b) (url \"u\"))"),
            Err(IntroductionError::DuplicateField { field: "name", .. })
        ));
        assert!(matches!(
            spec("(channel (name 'a) (url \"u\") (colour \"red\"))"),
            Err(IntroductionError::UnknownField { .. })
        ));
        assert!(matches!(
            spec("(channel (name a) (url \"u\"))"),
            Err(IntroductionError::MalformedField { field: "name", .. })
        ));
    }

    #[test]
    fn later_pinned_duplicates_win() {
        let file = ChannelsFile::parse(
            "(append (list (channel (name 'a) (url \"1\"))) \
                     (cons* (channel (name 'a) (url \"2\") (commit \"c\")) '()))",
        )
        .unwrap();
        assert_eq!(file.pick("a").unwrap().url, "2");
        assert!(matches!(
            file.pick("b"),
            Err(IntroductionError::NoSuchChannel { .. })
        ));
    }
}
