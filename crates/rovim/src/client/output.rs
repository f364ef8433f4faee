//! `--output json|yaml|table` for the client commands.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Json,
    Yaml,
    Table,
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        // A name or an error text with a newline or an escape must not redraw the terminal.
        Value::String(s) => rovim_core::escape_controls(s).into_owned(),
        other => other.to_string(),
    }
}

fn dump(out: Output, v: &Value) -> anyhow::Result<()> {
    match out {
        Output::Json => println!("{}", serde_json::to_string_pretty(v)?),
        Output::Yaml => print!("{}", rovim_core::yaml::to_string(v)?),
        Output::Table => unreachable!("tables are drawn by the callers"),
    }
    Ok(())
}

/// One object: `key: value` lines for a table.
pub fn one(out: Output, v: &Value, keys: &[&str]) -> anyhow::Result<()> {
    if out != Output::Table || keys.is_empty() {
        return dump(
            if out == Output::Table {
                Output::Yaml
            } else {
                out
            },
            v,
        );
    }
    let width = keys.iter().map(|k| k.len()).max().unwrap_or(0);
    for k in keys {
        println!("{k:<width$}  {}", cell(&v[*k]));
    }
    Ok(())
}

/// A list: aligned columns for a table.
pub fn many(out: Output, v: &Value, keys: &[&str]) -> anyhow::Result<()> {
    if out != Output::Table {
        return dump(out, v);
    }
    let rows: Vec<Vec<String>> = v.as_array().map_or_else(Vec::new, |a| {
        a.iter()
            .map(|r| keys.iter().map(|k| cell(&r[*k])).collect())
            .collect()
    });
    let widths: Vec<usize> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
                .max(k.len())
                .min(60)
        })
        .collect();
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| {
                let c: String = c.chars().take(*w).collect();
                format!("{c:<w$}")
            })
            .collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(keys.iter().map(|k| k.to_uppercase()).collect());
    for r in rows {
        line(r);
    }
    Ok(())
}
