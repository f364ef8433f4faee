//! The time a write stamps its rows with (`created_at`, `modified_at`), formatted once.
//!
//! SQLite stores a `TIMESTAMP` as text, and diesel formats a `NaiveDateTime` with chrono's
//! strftime at every bind: a 1,000-task action binds the same instant ~5,600 times, on the
//! DbActor's one thread. A `Stamp` carries the text made once, in diesel's own format, so what is
//! stored (and read back) is the same; PostgreSQL gets the binary timestamp as before.

use chrono::NaiveDateTime;
use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Timestamp;
use diesel::sqlite::Sqlite;

/// diesel's encoding of a SQLite timestamp (`diesel::sqlite::types::date_and_time::chrono`).
const SQLITE_FORMAT: &str = "%F %T%.f";

#[derive(Debug, Clone, PartialEq, Eq, AsExpression)]
#[diesel(sql_type = Timestamp)]
pub struct Stamp {
    time: NaiveDateTime,
    sqlite_text: String,
}

impl Stamp {
    pub fn new(time: NaiveDateTime) -> Stamp {
        Stamp {
            time,
            sqlite_text: time.format(SQLITE_FORMAT).to_string(),
        }
    }

    /// Now, to the microsecond (see [`crate::store::now`]).
    pub fn now() -> Stamp {
        Stamp::new(crate::store::now())
    }

    pub fn time(&self) -> NaiveDateTime {
        self.time
    }
}

impl ToSql<Timestamp, Sqlite> for Stamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.sqlite_text.as_str());
        Ok(IsNull::No)
    }
}

impl ToSql<Timestamp, Pg> for Stamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <NaiveDateTime as ToSql<Timestamp, Pg>>::to_sql(&self.time, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    #[derive(QueryableByName)]
    struct Read {
        #[diesel(sql_type = Text)]
        text: String,
        #[diesel(sql_type = Timestamp)]
        time: NaiveDateTime,
    }

    fn read<T>(c: &mut SqliteConnection, value: T) -> Read
    where
        T: diesel::serialize::ToSql<Timestamp, Sqlite> + Clone + Send + 'static,
    {
        diesel::sql_query("SELECT CAST(? AS TEXT) AS text, ? AS time")
            .bind::<Timestamp, _>(value.clone())
            .bind::<Timestamp, _>(value)
            .get_result(c)
            .unwrap()
    }

    #[test]
    fn sqlite_stores_the_text_diesel_would_and_reads_back_the_same_instant() {
        let mut c = SqliteConnection::establish(":memory:").unwrap();
        let now = crate::store::now();
        for time in [
            now,
            now.with_nanosecond(0).unwrap(),
            now.with_nanosecond(120_000).unwrap(),
        ] {
            let stamp = Stamp::new(time);
            let ours = read(&mut c, stamp.clone());
            let diesels = read(&mut c, time);
            assert_eq!(ours.text, diesels.text);
            assert_eq!(ours.time, time);
        }
    }
}
