//! Many rows of one table changed by one statement: `UPDATE t SET c = v.columnN, … FROM (VALUES
//! (…), (…)) AS v WHERE t.key = v.column1 … [AND guard] [RETURNING keys]`, the same text on both
//! backends (SQLite has had UPDATE FROM since 3.33 and RETURNING since 3.35). A group of writes
//! costs one round trip and one parse per table instead of one per row: on PostgreSQL the
//! DbActor's groups were bound by the round trip of each row's UPDATE.
//!
//! A key must appear once per statement (PostgreSQL would pick one of its rows at random):
//! [`generations`] splits a sequence of rows so that the n-th change of a key goes to the n-th
//! statement, and the statements run in order.

use std::collections::HashMap;
use std::hash::Hash;

use chrono::NaiveDateTime;
use diesel::RunQueryDsl;
use diesel::sql_types::{Bool, Integer, Nullable, Text, Timestamp};

use crate::connection::AnyConnection;
use crate::error::StoreError;
use crate::stamp::Stamp;

/// A bound value of one cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(Option<String>),
    Int(Option<i32>),
    Bool(bool),
    /// The statement's time stamp (one [`Stamp`] per statement, formatted once).
    Now,
    NullableTime(Option<NaiveDateTime>),
}

/// The shape of one statement: which table, which key columns (first in each row) and which
/// columns it sets (after the keys, in this order).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Shape {
    pub table: &'static str,
    pub keys: &'static [&'static str],
    pub columns: Vec<&'static str>,
    /// A condition on the target row (its own columns, unqualified), e.g. an open status.
    pub guard: Option<&'static str>,
}

/// SQLite allows 32,766 bound values per statement; PostgreSQL 65,535.
const MAX_BINDS: usize = 30_000;

/// The task keys an UPDATE … RETURNING on `tasks` changed.
#[derive(diesel::QueryableByName, Debug)]
pub struct ChangedTask {
    #[diesel(sql_type = Text)]
    pub action_id: String,
    #[diesel(sql_type = Integer)]
    pub task_index: i32,
}

impl Shape {
    fn sql(&self, rows: usize, postgres: bool) -> String {
        let width = self.keys.len() + self.columns.len();
        let mut n = 0;
        let mut next = || {
            n += 1;
            if postgres {
                format!("${n}")
            } else {
                "?".to_owned()
            }
        };
        let values: Vec<String> = (0..rows)
            .map(|_| {
                let cells: Vec<String> = (0..width).map(|_| next()).collect();
                format!("({})", cells.join(", "))
            })
            .collect();
        let set: Vec<String> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = v.column{}", self.keys.len() + i + 1))
            .collect();
        let mut on: Vec<String> = self
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{}.{k} = v.column{}", self.table, i + 1))
            .collect();
        if let Some(g) = self.guard {
            on.push(format!("{}.{g}", self.table));
        }
        format!(
            "UPDATE {} SET {} FROM (VALUES {}) AS v WHERE {}",
            self.table,
            set.join(", "),
            values.join(", "),
            on.join(" AND ")
        )
    }

    fn chunk_rows(&self) -> usize {
        (MAX_BINDS / (self.keys.len() + self.columns.len())).max(1)
    }
}

macro_rules! bound_query {
    ($sql:expr, $rows:expr, $stamp:expr) => {{
        let mut q = diesel::sql_query($sql).into_boxed();
        // Bound by reference: the writer thread copies no cell.
        for v in $rows.iter().flatten() {
            q = match v {
                Value::Text(s) => q.bind::<Nullable<Text>, _>(s),
                Value::Int(i) => q.bind::<Nullable<Integer>, _>(i),
                Value::Bool(b) => q.bind::<Bool, _>(b),
                Value::Now => q.bind::<Timestamp, _>($stamp),
                Value::NullableTime(t) => q.bind::<Nullable<Timestamp>, _>(t),
            };
        }
        q
    }};
}

/// Applies the rows (keys then columns, as the shape says); returns how many rows changed.
pub fn execute(
    conn: &mut AnyConnection,
    shape: &Shape,
    rows: &[Vec<Value>],
    stamp: &Stamp,
) -> Result<usize, StoreError> {
    let mut changed = 0;
    for chunk in rows.chunks(shape.chunk_rows()) {
        changed += match conn {
            AnyConnection::Postgresql(c) => {
                bound_query!(shape.sql(chunk.len(), true), chunk, stamp).execute(c)?
            }
            AnyConnection::Sqlite(c) => {
                bound_query!(shape.sql(chunk.len(), false), chunk, stamp).execute(c)?
            }
        };
    }
    Ok(changed)
}

/// Applies rows of `tasks` and returns the keys of those the guard let through.
pub fn execute_tasks(
    conn: &mut AnyConnection,
    shape: &Shape,
    rows: &[Vec<Value>],
    stamp: &Stamp,
) -> Result<Vec<ChangedTask>, StoreError> {
    let mut changed = Vec::new();
    for chunk in rows.chunks(shape.chunk_rows()) {
        let returning = |postgres| {
            format!(
                "{} RETURNING action_id, task_index",
                shape.sql(chunk.len(), postgres)
            )
        };
        changed.extend(match conn {
            AnyConnection::Postgresql(c) => {
                bound_query!(returning(true), chunk, stamp).load::<ChangedTask>(c)?
            }
            AnyConnection::Sqlite(c) => {
                bound_query!(returning(false), chunk, stamp).load::<ChangedTask>(c)?
            }
        });
    }
    Ok(changed)
}

/// Splits `items` into generations in which each key appears once, keeping the order of each
/// key's items: the n-th item of a key goes to generation n.
pub fn generations<K: Hash + Eq + Clone, T>(
    items: impl IntoIterator<Item = (K, T)>,
) -> Vec<Vec<(K, T)>> {
    let mut seen: HashMap<K, usize> = HashMap::new();
    let mut out: Vec<Vec<(K, T)>> = Vec::new();
    for (k, t) in items {
        let n = seen.entry(k.clone()).or_insert(0);
        if out.len() <= *n {
            out.push(Vec::new());
        }
        out[*n].push((k, t));
        *n += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_statement_names_keys_columns_and_guard_with_each_backends_placeholders() {
        let shape = Shape {
            table: "tasks",
            keys: &["action_id", "task_index"],
            columns: vec!["status", "modified_at"],
            guard: Some("status IN ('SCHEDULED', 'BUILD')"),
        };
        assert_eq!(
            shape.sql(2, true),
            "UPDATE tasks SET status = v.column3, modified_at = v.column4 FROM (VALUES ($1, $2, $3, $4), ($5, $6, $7, $8)) AS v \
             WHERE tasks.action_id = v.column1 AND tasks.task_index = v.column2 AND tasks.status IN ('SCHEDULED', 'BUILD')"
        );
        assert!(shape.sql(1, false).contains("(VALUES (?, ?, ?, ?))"));
        assert_eq!(shape.chunk_rows(), MAX_BINDS / 4);
    }

    #[test]
    fn the_nth_change_of_a_key_goes_to_the_nth_generation_in_order() {
        let g = generations([("a", 1), ("b", 2), ("a", 3), ("a", 4), ("c", 5)]);
        assert_eq!(
            g,
            vec![
                vec![("a", 1), ("b", 2), ("c", 5)],
                vec![("a", 3)],
                vec![("a", 4)]
            ]
        );
        assert!(generations(Vec::<(u8, u8)>::new()).is_empty());
    }
}
