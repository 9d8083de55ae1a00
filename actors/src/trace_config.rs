//! The `[trace]` filters in force, which SIGHUP may replace while the broker runs.
//!
//! Every hop asks "is `[trace]` on?": that is one relaxed load of `on`, as cheap as the
//! `Option` test it stands for. Only when it is on is the filter itself loaded (an `ArcSwap`),
//! so a broker without `[trace]` pays nothing for the filters being replaceable.

use crate::trace::TraceFilter;
use arc_swap::ArcSwapOption;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

#[derive(Default)]
pub struct ConfigTrace {
    on: AtomicBool,
    filter: ArcSwapOption<TraceFilter>,
}

impl ConfigTrace {
    pub fn new(filter: Option<Arc<TraceFilter>>) -> ConfigTrace {
        let t = ConfigTrace::default();
        t.replace(filter);
        t
    }

    /// Is any `[trace]` filter set?
    #[inline(always)]
    pub fn is_some(&self) -> bool {
        self.on.load(Relaxed)
    }

    /// The filters, if any are set.
    #[inline(always)]
    pub fn get(&self) -> Option<Arc<TraceFilter>> {
        match self.is_some() {
            false => None,
            true => self.filter.load_full(),
        }
    }

    /// New filters (SIGHUP): messages entering from now on are traced by them.
    pub fn replace(&self, filter: Option<Arc<TraceFilter>>) {
        let on = filter.is_some();
        self.filter.store(filter);
        self.on.store(on, Relaxed);
    }
}

impl std::fmt::Debug for ConfigTrace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

impl PartialEq for ConfigTrace {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacing_the_filters_turns_tracing_on_and_off() {
        let t = ConfigTrace::default();
        assert!(!t.is_some() && t.get().is_none());
        let f = TraceFilter::new(vec!["a/#".into()], vec![]).map(Arc::new);
        t.replace(f.clone());
        assert!(t.is_some());
        assert_eq!(t.get(), f);
        t.replace(None);
        assert!(!t.is_some() && t.get().is_none());
    }
}
