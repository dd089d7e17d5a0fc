//! Which branches are protected: the values of
//! `guix.authentication.protected-branch`, as branch names (`master`),
//! full ref names (`refs/heads/master`) or glob patterns (`release/*`).

use std::fmt;

use untrusted_text::Untrusted;

/// A set of branches a server refuses to rewind or delete: one value of
/// `guix.authentication.protected-branch`.
///
/// `*` matches any run of characters, `/` included (as in git's refspecs),
/// so `*` alone protects every branch and `release/*` every branch under
/// `release/`. `refs/heads/` may be written or left out.
///
/// ```
/// use git_authenticate::gate::BranchPattern;
///
/// let release = BranchPattern::parse("refs/heads/release/*").unwrap();
/// assert!(release.matches("release/1.0"));
/// assert!(!release.matches("master"));
/// assert_eq!(release.to_string(), "refs/heads/release/*");
/// // A value no branch can have is refused rather than protecting nothing.
/// assert!(BranchPattern::parse("refs/tags/v1").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchPattern {
    /// The pattern on branch names, `refs/heads/` taken off.
    branch: String,
}

/// A value of `guix.authentication.protected-branch` that can match no
/// branch, so that it would silently protect nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "guix.authentication.protected-branch = `{}` can match no branch: give a branch name \
     (`master`), a full ref name (`refs/heads/master`) or a pattern (`release/*`)",
    Untrusted::new(value)
)]
pub struct BranchPatternError {
    /// The value, as configured.
    pub value: String,
}

impl BranchPattern {
    /// The pattern `value` stands for, or why it can match no branch: it is
    /// empty, names a ref outside `refs/heads/`, or is not a valid ref name
    /// (with each `*` read as one character).
    pub fn parse(value: &str) -> Result<BranchPattern, BranchPatternError> {
        let error = || BranchPatternError {
            value: value.to_owned(),
        };
        let branch = match value.strip_prefix("refs/heads/") {
            Some(branch) => branch,
            None if value.starts_with("refs/") => return Err(error()),
            None => value,
        };
        let example = format!("refs/heads/{}", branch.replace('*', "x"));
        if branch.is_empty() || !git2::Reference::is_valid_name(&example) {
            return Err(error());
        }
        Ok(BranchPattern {
            branch: branch.to_owned(),
        })
    }

    /// Whether `branch` (`release/1.0`, without `refs/heads/`) is one of
    /// the branches this pattern names.
    pub fn matches(&self, branch: &str) -> bool {
        glob(self.branch.as_bytes(), branch.as_bytes())
    }

    /// Whether `branch` would match if case were ignored, as a
    /// case-folding file system (APFS, NTFS) ignores it for loose refs.
    pub fn matches_ignoring_case(&self, branch: &str) -> bool {
        glob(
            fold_case(&self.branch).as_bytes(),
            fold_case(branch).as_bytes(),
        )
    }
}

impl BranchPattern {
    /// The full pattern, `refs/heads/` included, exactly as configured (not
    /// escaped: for JSON).
    pub fn full_name(&self) -> String {
        format!("refs/heads/{}", self.branch)
    }
}

impl fmt::Display for BranchPattern {
    /// The full pattern, `refs/heads/` included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refs/heads/{}", Untrusted::new(&self.branch))
    }
}

/// `name` as a case-folding file system compares it, or more broadly:
/// each character upper-cased then lower-cased (full mappings, so that
/// `ß`, `SS` and `ss` fold alike, as do `ſ` and `s`, `ı` and `i`, the
/// Kelvin sign and `k`, `ﬁ` and `fi`: NTFS's upcase table and APFS's case
/// folding each join some of these), without the code points HFS+ ignores
/// (git's `is_hfs_dotgit` list), and with the two characters whose
/// canonical decomposition is ASCII other than by case (APFS and HFS+ are
/// normalization-insensitive). Names canonically equivalent only through
/// combining marks (`é` and `e` + U+0301) are not joined: protected and
/// keyring names are ASCII in practice, and no other character decomposes
/// to ASCII.
pub(crate) fn fold_case(name: &str) -> String {
    name.chars()
        .filter(|&c| !hfs_ignored(c))
        .map(|c| match c {
            '\u{37e}' => ';',
            '\u{1fef}' => '`',
            c => c,
        })
        .flat_map(char::to_uppercase)
        .flat_map(char::to_lowercase)
        .collect()
}

/// The code points HFS+ ignores in file names (`is_hfs_dotgit` in git's
/// `utf8.c`): a name containing them is another name's file there.
fn hfs_ignored(c: char) -> bool {
    matches!(
        c,
        '\u{200c}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{206a}'..='\u{206f}' | '\u{feff}'
    )
}

/// Whether `text` matches `pattern`, where `*` matches any run of bytes:
/// the classic two-pointer match, backtracking only to the last `*`, so at
/// worst the product of the two lengths (both bounded by git's ref names).
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_full_names_and_globs() {
        let cases = [
            ("master", "master", true),
            ("refs/heads/master", "master", true),
            ("master", "master2", false),
            ("*", "any/thing", true),
            ("release/*", "release/1.0", true),
            ("release/*", "release", false),
            ("release/*", "other/release/1", false),
            ("refs/heads/*-stable", "v1-stable", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("**", "a/b", true),
            ("release/**", "release/a/b", true),
        ];
        for (value, branch, expected) in cases {
            let pattern = BranchPattern::parse(value).unwrap();
            assert_eq!(pattern.matches(branch), expected, "{value} {branch}");
        }
        assert!(BranchPattern::parse("Master")
            .unwrap()
            .matches_ignoring_case("master"));
        // What NTFS's upcase table or APFS's folding joins, and more.
        for (a, b) in [
            ("straße", "STRASSE"),
            ("sign", "\u{17f}ign"),
            ("main", "ma\u{131}n"),
            ("keyring", "\u{212a}eyring"),
            ("file", "\u{fb01}le"),
            ("master", "mas\u{200c}ter"),
            ("a;b", "a\u{37e}b"),
        ] {
            assert_eq!(fold_case(a), fold_case(b), "{a} {b}");
        }
        assert_ne!(fold_case("master"), fold_case("maste"));
    }

    #[test]
    fn values_matching_no_branch_are_refused() {
        for value in [
            "",
            "refs/heads/",
            "refs/tags/v1",
            "refs/remotes/origin/master",
            "mas ter",
            "a..b",
            "x.lock",
            "bad\x1b[2J",
            "trailing/",
            "release/?",
            "release/[ab]",
            "refs/heads//x",
            "/master",
        ] {
            assert!(BranchPattern::parse(value).is_err(), "{value:?}");
        }
        let message = BranchPattern::parse("a\nb").unwrap_err().to_string();
        assert!(message.contains(r"`a\x0ab`"), "{message}");
    }
}
