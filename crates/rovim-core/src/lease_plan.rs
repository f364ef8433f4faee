//! How VIM accounts are shared between the live instances of one database: each takes up to its
//! fair share (accounts ÷ live instances, rounded up) and hands back only what another live
//! instance is short of and cannot take from the free ones. The round-up and that condition are
//! the hysteresis: a balanced cluster is left alone, so accounts do not ping-pong.

/// What one instance does with its leases in one round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LeasePlan {
    /// At most this many free (unowned, expired or dead-owned) accounts to take.
    pub claim: usize,
    /// This many of its own to hand back.
    pub release: usize,
}

/// The most accounts one of `live` instances should run.
pub fn fair_share(accounts: usize, live: usize) -> usize {
    accounts.div_ceil(live.max(1))
}

/// The plan of an instance holding `mine` of `accounts`, when the other live instances hold
/// `others` (one count each). Accounts no live instance holds are free.
pub fn plan(accounts: usize, mine: usize, others: &[usize]) -> LeasePlan {
    let share = fair_share(accounts, others.len() + 1);
    let held = mine + others.iter().sum::<usize>();
    let free = accounts.saturating_sub(held);
    let short: usize = others.iter().map(|&c| share.saturating_sub(c)).sum();
    LeasePlan {
        claim: share.saturating_sub(mine),
        release: mine.saturating_sub(share).min(short.saturating_sub(free)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_fourth_instance_gets_a_quarter_and_a_balanced_cluster_is_left_alone() {
        assert_eq!(
            plan(12, 4, &[4, 4, 0]),
            LeasePlan {
                claim: 0,
                release: 1
            }
        );
        assert_eq!(
            plan(12, 0, &[4, 4, 4]),
            LeasePlan {
                claim: 3,
                release: 0
            }
        );
        assert_eq!(plan(12, 3, &[3, 3, 3]), LeasePlan::default());
        // 12 over 5: shares of 3, one instance idle is balanced enough (no one above 3).
        assert_eq!(plan(12, 3, &[3, 3, 3, 0]), LeasePlan::default());
        assert_eq!(
            plan(12, 0, &[3, 3, 3, 3]),
            LeasePlan {
                claim: 3,
                release: 0
            }
        );
        // Alone: everything.
        assert_eq!(
            plan(7, 0, &[]),
            LeasePlan {
                claim: 7,
                release: 0
            }
        );
        // Free accounts go first: nobody hands back what the newcomer can take freely.
        assert_eq!(
            plan(12, 4, &[0]),
            LeasePlan {
                claim: 2,
                release: 0
            }
        );
    }

    /// Instances taking rounds in turn, each claiming from the free accounts and releasing to
    /// the free pool, as the database would let them.
    fn rounds(accounts: usize, mut held: Vec<usize>, order: &[usize]) -> (Vec<usize>, usize) {
        let mut moves = 0;
        for &i in order {
            let i = i % held.len();
            let others: Vec<usize> = (0..held.len())
                .filter(|&j| j != i)
                .map(|j| held[j])
                .collect();
            let p = plan(accounts, held[i], &others);
            let free = accounts - held.iter().sum::<usize>();
            let take = p.claim.min(free);
            held[i] = held[i] + take - p.release;
            moves += take + p.release;
        }
        (held, moves)
    }

    proptest! {
        #[test]
        fn rounds_converge_to_fair_shares_and_then_stop_moving(
            accounts in 0usize..60,
            live in 1usize..7,
            start in proptest::collection::vec(0usize..20, 1..7),
            order in proptest::collection::vec(0usize..7, 0..40),
        ) {
            // A start the database could hold: no more leases than accounts.
            let mut held: Vec<usize> = start.into_iter().cycle().take(live).collect();
            while held.iter().sum::<usize>() > accounts {
                let max = held.iter().copied().max().unwrap();
                let at = held.iter().position(|&h| h == max).unwrap();
                held[at] -= 1;
            }
            let (held, _) = rounds(accounts, held, &order);
            prop_assert!(held.iter().sum::<usize>() <= accounts);
            // Three full passes in any order reach a fair state...
            let all: Vec<usize> = (0..live).cycle().take(3 * live).collect();
            let (held, _) = rounds(accounts, held, &all);
            let share = fair_share(accounts, live);
            prop_assert_eq!(held.iter().sum::<usize>(), accounts, "every account run");
            prop_assert!(held.iter().all(|&h| h <= share), "{:?} above {}", held, share);
            // ...which is stable: further rounds move nothing.
            let (after, moves) = rounds(accounts, held.clone(), &all);
            prop_assert_eq!(moves, 0);
            prop_assert_eq!(after, held);
        }
    }
}
