//! Walking an OpenStack listing page by page (`limit` and `marker`) while its elements come
//! and go: Neutron and Nova both fail a page whose marker element was deleted after the page
//! before ended on it, so the walk goes back to the marker before, and keeps once what it then
//! sees twice.

use std::collections::HashSet;

use serde_json::Value;

/// Marker restarts allowed in one listing before the failure is returned.
const MAX_LOST_MARKERS: usize = 10;

/// How a service says the listing is complete.
#[derive(Debug, Clone, Copy)]
pub(super) enum End {
    /// A page shorter than the page size (Neutron).
    ShortPage(usize),
    /// An empty page: Nova answers a short page before the end when servers are deleted while
    /// it lists them (seen: one server of six, with pages of two).
    EmptyPage,
}

/// Where a listing stands.
pub(super) struct Listing {
    end: End,
    /// The markers used so far, the current one last.
    markers: Vec<String>,
    lost: usize,
    listed: HashSet<String>,
    items: Vec<Value>,
}

impl Listing {
    pub(super) fn new(end: End) -> Self {
        Self {
            end,
            markers: Vec::new(),
            lost: 0,
            listed: HashSet::new(),
            items: Vec::new(),
        }
    }

    /// The marker of the next page (none for the first).
    pub(super) fn marker(&self) -> Option<&str> {
        self.markers.last().map(String::as_str)
    }

    /// Takes the page asked from [`Self::marker`]; false once the listing is complete.
    pub(super) fn take(&mut self, page: Vec<Value>) -> bool {
        let last = page
            .last()
            .and_then(|r| r["id"].as_str())
            .map(str::to_owned);
        if last.is_some() && last.as_deref() == self.marker() {
            // A server that ignores the marker: this page is the first one again.
            return false;
        }
        let full = match self.end {
            End::ShortPage(size) => page.len() >= size,
            End::EmptyPage => true,
        };
        let listed = &mut self.listed;
        self.items.extend(
            page.into_iter()
                .filter(|r| listed.insert(r["id"].as_str().unwrap_or_default().to_owned())),
        );
        match last {
            Some(l) if full => {
                self.markers.push(l);
                true
            }
            _ => false,
        }
    }

    /// After the page asked from [`Self::marker`] failed because the service no longer knows
    /// that element: whether to go on from the marker before (false on the first page, and
    /// after [`MAX_LOST_MARKERS`] restarts, when the failure is the caller's to return).
    pub(super) fn marker_lost(&mut self) -> bool {
        if self.markers.is_empty() || self.lost >= MAX_LOST_MARKERS {
            return false;
        }
        self.lost += 1;
        self.markers.pop();
        true
    }

    pub(super) fn into_items(self) -> Vec<Value> {
        self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn page(ids: &[&str]) -> Vec<Value> {
        ids.iter().map(|id| json!({ "id": id })).collect()
    }

    fn ids(l: Listing) -> Vec<String> {
        l.into_items()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn a_short_page_ends_a_neutron_listing_and_an_empty_one_a_nova_listing() {
        let mut neutron = Listing::new(End::ShortPage(2));
        assert!(neutron.take(page(&["a", "b"])));
        assert_eq!(neutron.marker(), Some("b"));
        assert!(!neutron.take(page(&["c"])));
        assert_eq!(ids(neutron), ["a", "b", "c"]);

        let mut nova = Listing::new(End::EmptyPage);
        assert!(nova.take(page(&["a", "b"])));
        assert!(nova.take(page(&["c"])));
        assert_eq!(nova.marker(), Some("c"));
        assert!(!nova.take(page(&[])));
        assert_eq!(ids(nova), ["a", "b", "c"]);
    }

    #[test]
    fn a_lost_marker_goes_back_to_the_one_before_and_keeps_each_element_once() {
        let mut l = Listing::new(End::EmptyPage);
        assert!(!l.marker_lost(), "the first page has no marker to lose");
        assert!(l.take(page(&["a", "b"])));
        assert!(l.take(page(&["c", "d"])));
        assert!(l.marker_lost(), "d was deleted");
        assert_eq!(l.marker(), Some("b"));
        assert!(l.take(page(&["c", "e"])));
        assert!(l.marker_lost(), "e too");
        assert!(l.marker_lost(), "and b");
        assert_eq!(l.marker(), None, "from the start again");
        assert!(l.take(page(&["a", "c"])));
        assert!(l.take(page(&["f"])));
        assert!(!l.take(page(&[])));
        assert_eq!(ids(l), ["a", "b", "c", "d", "e", "f"]);
    }

    #[test]
    fn lost_markers_are_given_up_on_after_ten_restarts() {
        let mut l = Listing::new(End::EmptyPage);
        for n in 0..MAX_LOST_MARKERS {
            assert!(l.take(page(&["a"])));
            assert!(l.marker_lost(), "restart {n}");
        }
        assert!(l.take(page(&["a"])));
        assert!(!l.marker_lost());
    }

    #[test]
    fn a_server_that_ignores_the_marker_ends_the_listing() {
        let mut l = Listing::new(End::ShortPage(2));
        assert!(l.take(page(&["a", "b"])));
        assert!(!l.take(page(&["a", "b"])));
        assert_eq!(ids(l), ["a", "b"]);
    }
}
