//! Reads the counters the bench needs from the service's `/metrics` (Prometheus text format).

/// The sum of every sample of a metric (all label sets), 0 when it is absent.
pub fn sum(text: &str, metric: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (name, rest) = match l.find(['{', ' ']) {
                Some(i) => l.split_at(i),
                None => return None,
            };
            if name != metric {
                return None;
            }
            rest.rsplit(' ').next()?.parse::<f64>().ok()
        })
        .sum()
}

/// What the bench reads off the service before and after a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    pub vim_calls: f64,
    pub db_rows: f64,
    pub cpu_seconds: f64,
    pub peak_rss_bytes: f64,
}

impl Sample {
    pub fn of(text: &str) -> Sample {
        Sample {
            vim_calls: sum(text, "rovim_vim_call_seconds_count"),
            db_rows: sum(text, "rovim_db_rows_written_total"),
            cpu_seconds: sum(text, "rovim_cpu_seconds"),
            peak_rss_bytes: sum(text, "rovim_peak_resident_memory_bytes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP rovim_vim_call_seconds VIM call latency\n\
        # TYPE rovim_vim_call_seconds histogram\n\
        rovim_vim_call_seconds_bucket{call=\"create_vm\",vim=\"a\",le=\"0.005\"} 7\n\
        rovim_vim_call_seconds_count{call=\"create_vm\",vim=\"a\"} 7\n\
        rovim_vim_call_seconds_count{call=\"create_net\",vim=\"b\"} 3\n\
        rovim_vim_call_seconds_count_other 100\n\
        process_cpu_seconds_total 1.5\n";

    #[test]
    fn sums_every_label_set_of_exactly_that_metric() {
        assert_eq!(sum(TEXT, "rovim_vim_call_seconds_count"), 10.0);
        assert_eq!(sum(TEXT, "process_cpu_seconds_total"), 1.5);
        assert_eq!(sum(TEXT, "absent"), 0.0);
    }
}
