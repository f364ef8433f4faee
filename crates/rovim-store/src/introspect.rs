//! What the migrations produced, read back from the database catalog: tables and their columns,
//! normalised so the two backends can be compared (and shown by `rovim migrate`).

use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};

use crate::connection::AnyConnection;
use crate::error::StoreError;

/// A column as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Column {
    pub table: String,
    pub name: String,
    /// Lower-case declared type; PostgreSQL's long names shortened to the declared ones.
    pub sql_type: String,
    pub nullable: bool,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Integer)]
    not_null: i32,
}

const SQLITE: &str = "SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type, \
     CAST(p.\"notnull\" OR p.pk > 0 AS INTEGER) AS not_null \
     FROM sqlite_master m JOIN pragma_table_info(m.name) p \
     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations'";

const POSTGRES: &str = "SELECT table_name::text AS table_name, column_name::text AS column_name, \
     data_type::text AS data_type, CASE WHEN is_nullable = 'NO' THEN 1 ELSE 0 END AS not_null \
     FROM information_schema.columns \
     WHERE table_schema = current_schema() AND table_name <> '__diesel_schema_migrations'";

fn normalise(t: &str) -> String {
    match t.to_ascii_lowercase().as_str() {
        "timestamp without time zone" => "timestamp".to_owned(),
        other => other.to_owned(),
    }
}

/// Every column of rovim's tables, sorted by table and name.
pub fn columns(conn: &mut AnyConnection) -> Result<Vec<Column>, StoreError> {
    let query = match conn {
        AnyConnection::Sqlite(_) => SQLITE,
        AnyConnection::Postgresql(_) => POSTGRES,
    };
    let mut cols: Vec<Column> = diesel::sql_query(query)
        .load::<Row>(conn)?
        .into_iter()
        .map(|r| Column {
            table: r.table_name,
            name: r.column_name,
            sql_type: normalise(&r.data_type),
            nullable: r.not_null == 0,
        })
        .collect();
    cols.sort();
    Ok(cols)
}
