//! `audit --html FILE`: one self-contained page (no script, font or image
//! from anywhere): a timeline with one row per key, then the tables and
//! the findings. The JSON document is embedded in the page
//! (`<script type="application/json" id="audit-data">`), escaped so that
//! no string of the repository can close the element, for tools and for
//! the test that checks the page against the JSON.

use std::fmt::Write;

use git_authenticate::audit::{date, AuditedKey, Line};
use git_authenticate::{Audit, Untrusted};

use super::{facts, listed, span, Document};

/// Width of the timeline's plot, in SVG units.
const WIDTH: f64 = 900.0;
/// Height of one key's row.
const ROW: f64 = 22.0;
/// Room for the names on the left.
const LABEL: f64 = 170.0;

/// The page.
pub fn page(report: &Audit, document: &Document) -> String {
    let mut html = String::new();
    let title = format!("Audit of {}", report.end.commit);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n",
        escape(&title)
    );
    let _ = write!(
        html,
        "<h1>Who could sign, since when</h1>\n<p>{} commits from the introduction \
         <code>{}</code> to <code>{}</code> ({}); {} keys ever authorized or signing, \
         {} authorized at END; {} findings.</p>\n",
        report.commits,
        report.introduction.commit,
        report.end.commit,
        date(report.end.time),
        report.keys.len(),
        report.authorized_at_end.len(),
        report.findings.len()
    );
    timeline(&mut html, report);
    findings(&mut html, report);
    changes(&mut html, report);
    keys(&mut html, report);
    let data = serde_json::to_string(document).unwrap_or_default();
    let _ = write!(
        html,
        "<script type=\"application/json\" id=\"audit-data\">{}</script>\n</body></html>\n",
        script_safe(&data)
    );
    html
}

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#222;background:#fff}\
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:2px 6px;\
font-size:13px;text-align:left}code,.fpr{font-family:monospace}.critical{color:#b00}\
.warning{color:#a60}.info{color:#357}svg text{font-size:11px;font-family:sans-serif}";

/// Text for HTML: control characters escaped as for a terminal, then the
/// characters HTML gives meaning to.
fn escape(text: &str) -> String {
    let shown = Untrusted::new(text).to_string();
    let mut out = String::with_capacity(shown.len());
    for c in shown.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON inside `<script>`: `<`, `>` and `&` as `\u` escapes, which JSON
/// reads back as the same characters (they occur only within strings).
fn script_safe(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn name(key: &AuditedKey) -> String {
    escape(key.name.as_deref().unwrap_or("?"))
}

/// One row per key: the window in which it was listed, its commits per
/// year, its expiry; a line at each change of the file.
fn timeline(html: &mut String, report: &Audit) {
    let start = report
        .changes
        .first()
        .map_or(report.end.time, |c| c.at.time);
    let start = start.min(
        report
            .keys
            .iter()
            .filter_map(|k| k.signed.first)
            .map(|c| c.time)
            .min()
            .unwrap_or(start),
    );
    let end = report.end.time.max(start + 1);
    let x = |t: i64| LABEL + WIDTH * ((t.clamp(start, end) - start) as f64 / (end - start) as f64);
    let height = ROW * (report.keys.len() as f64 + 2.0);
    let _ = write!(
        html,
        "<h2>Timeline</h2>\n<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{}\" height=\"{height}\" viewBox=\"0 0 {} {height}\">\n",
        LABEL + WIDTH + 10.0,
        LABEL + WIDTH + 10.0
    );
    // The years, along the top.
    for year in date(start)[..4].parse().unwrap_or(1970)..=date(end)[..4].parse().unwrap_or(1970) {
        let at = year_start(year);
        if at >= start {
            let _ = write!(
                html,
                "<text x=\"{:.1}\" y=\"12\" fill=\"#666\">{year}</text>",
                x(at) + 2.0
            );
        }
    }
    for change in &report.changes {
        let colour = match change.line {
            Line::SideBranch => "#e80",
            _ => "#999",
        };
        let who = change.signer_name.as_deref().unwrap_or("?");
        let _ = writeln!(
            html,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"0\" y2=\"{height}\" stroke=\"{colour}\" \
             stroke-dasharray=\"2,3\"><title>{1} {2} by {3}</title></line>",
            x(change.at.time),
            date(change.at.time),
            change.at.commit,
            escape(who)
        );
    }
    let max_year = report
        .keys
        .iter()
        .flat_map(|k| k.signed.per_year.iter().map(|&(_, n)| n))
        .max()
        .unwrap_or(1)
        .max(1);
    for (row, key) in report.keys.iter().enumerate() {
        let y = ROW * (row as f64 + 1.0);
        let _ = write!(
            html,
            "<g class=\"key\"><text x=\"2\" y=\"{:.1}\">{}</text>",
            y + 14.0,
            name(key)
        );
        if let Some(first) = key.first_listed {
            let last = match key.authorized_at_end {
                true => report.end.time,
                false => key.last_listed.map_or(first.time, |c| c.time),
            };
            let _ = write!(
                html,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"16\" fill=\"#cde\">\
                 <title>listed {}</title></rect>",
                x(first.time),
                y + 2.0,
                (x(last) - x(first.time)).max(1.0),
                escape(&listed(key))
            );
        }
        for &(year, commits) in &key.signed.per_year {
            let from = x(year_start(year));
            let to = x(year_start(year + 1));
            let tall = 14.0 * commits as f64 / max_year as f64;
            let _ = write!(
                html,
                "<rect x=\"{from:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#247\">\
                 <title>{year}: {commits} commits</title></rect>",
                y + 17.0 - tall.max(1.0),
                (to - from - 1.0).max(1.0),
                tall.max(1.0)
            );
        }
        if let Some(expires) = key.keyring.as_ref().and_then(|f| f.expires) {
            if expires <= end {
                let _ = write!(
                    html,
                    "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#b00\">✕<title>expires {}</title></text>",
                    x(expires) - 4.0,
                    y + 14.0,
                    date(expires)
                );
            }
        }
        html.push_str("</g>\n");
    }
    html.push_str("</svg>\n");
}

/// 1 January of `year`, in seconds since the epoch (Howard Hinnant's
/// `days_from_civil`).
fn year_start(year: i64) -> i64 {
    let y = year - 1; // January counts in the previous March-based year.
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = 306; // 1 January, counted from 1 March.
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * 86_400
}

fn findings(html: &mut String, report: &Audit) {
    html.push_str("<h2>Findings</h2>\n<table id=\"findings\"><tr><th>severity</th><th>kind</th><th>what</th><th>keys and commits</th></tr>\n");
    for finding in &report.findings {
        let about: Vec<String> = finding
            .keys
            .iter()
            .map(|k| match report.key(k) {
                Some(key) => format!("{} <span class=\"fpr\">{}</span>", name(key), k.to_hex()),
                None => format!("<span class=\"fpr\">{}</span>", k.to_hex()),
            })
            .chain(finding.commits.iter().map(|c| format!("<code>{c}</code>")))
            .collect();
        let severity = finding.severity.name();
        let _ = writeln!(
            html,
            "<tr class=\"{severity}\"><td>{severity}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            finding.kind.name(),
            escape(&finding.to_string()),
            about.join(", ")
        );
    }
    html.push_str("</table>\n");
}

fn changes(html: &mut String, report: &Audit) {
    html.push_str("<h2>Changes of <code>.guix-authorizations</code></h2>\n<table id=\"changes\"><tr><th>date</th><th>commit</th><th>signer</th><th>added</th><th>removed</th><th>line</th></tr>\n");
    for change in &report.changes {
        let keys = |keys: &[git_authenticate::audit::NamedKey]| {
            keys.iter()
                .map(|k| {
                    format!(
                        "{} <span class=\"fpr\">{}</span>",
                        escape(k.name.as_deref().unwrap_or("?")),
                        k.fingerprint.to_hex()
                    )
                })
                .collect::<Vec<_>>()
                .join("<br>")
        };
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            date(change.at.time),
            change.at.commit,
            escape(change.signer_name.as_deref().unwrap_or("?")),
            keys(&change.added),
            keys(&change.removed),
            match (change.introduction, change.line) {
                (true, _) => "introduction",
                (_, Line::SideBranch) => "side branch",
                _ => "first parent",
            }
        );
    }
    html.push_str("</table>\n");
}

fn keys(html: &mut String, report: &Audit) {
    html.push_str("<h2>Keys</h2>\n<table id=\"keys\"><tr><th>name</th><th>fingerprint</th><th>listed</th><th>authorized by</th><th>commits</th><th>first–last signed</th><th>key</th></tr>\n");
    for key in &report.keys {
        let by = key
            .authorized_by
            .as_ref()
            .map_or_else(String::new, |(at, signer)| {
                let named = report.key(signer).map_or_else(|| signer.to_hex(), name);
                format!("{named} ({})", date(at.time))
            });
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td class=\"fpr\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            name(key),
            key.fingerprint.to_hex(),
            escape(&listed(key)),
            by,
            key.signed.count,
            escape(&span(key.signed.first, key.signed.last, false)),
            escape(&facts(key))
        );
    }
    html.push_str("</table>\n");
}
