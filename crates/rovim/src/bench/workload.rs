//! OSM RO's baseline workload: per VIM account one action of CREATE tasks, where every index
//! divisible by 5 is a bridge net and the four indexes after it are VMs with one virtual
//! interface on that net (so they depend on it).

use serde_json::{Value, json};

/// The body of `POST /v1/actions` for one VIM account's share of the tasks.
pub fn action(vim: &str, tasks: usize, tag: &str) -> Value {
    let tasks: Vec<Value> = (0..tasks).map(|i| task(vim, i, tag)).collect();
    json!({"description": format!("rovim bench {tag}"), "tasks": tasks})
}

fn task(vim: &str, i: usize, tag: &str) -> Value {
    if i.is_multiple_of(5) {
        return json!({"vim_account": vim, "action": "CREATE", "item": "net",
                      "params": {"name": format!("{tag}-net-{i}"), "type": "bridge"}});
    }
    let net = i - i % 5;
    json!({"vim_account": vim, "action": "CREATE", "item": "vm",
           "params": {"name": format!("{tag}-vm-{i}"), "image_id": "bench-image", "flavor_id": "bench-flavor",
                      "networks": [{"net": {"task": net}, "type": "virtual"}]}})
}

/// How many tasks each of `vims` accounts gets: the total split as evenly as it goes.
pub fn shares(total: usize, vims: usize) -> Vec<usize> {
    (0..vims)
        .map(|v| total / vims + usize::from(v < total % vims))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nets_every_fifth_index_and_vms_on_the_net_before_them() {
        let a = action("v", 12, "t");
        let tasks = a["tasks"].as_array().unwrap();
        assert_eq!(tasks.len(), 12);
        let nets: Vec<usize> = (0..12).filter(|&i| tasks[i]["item"] == "net").collect();
        assert_eq!(nets, vec![0, 5, 10]);
        assert_eq!(tasks[4]["params"]["networks"][0]["net"]["task"], 0);
        assert_eq!(tasks[9]["params"]["networks"][0]["net"]["task"], 5);
        assert_eq!(tasks[11]["params"]["networks"][0]["net"]["task"], 10);
        assert!(
            tasks
                .iter()
                .all(|t| t["action"] == "CREATE" && t["vim_account"] == "v")
        );
    }

    #[test]
    fn shares_add_up_and_differ_by_at_most_one() {
        for (total, vims) in [(10_000, 10), (7, 3), (2, 5), (0, 1)] {
            let s = shares(total, vims);
            assert_eq!(s.len(), vims);
            assert_eq!(s.iter().sum::<usize>(), total);
            assert!(
                s.iter().max().unwrap() - s.iter().min().unwrap() <= 1,
                "{s:?}"
            );
        }
    }
}
