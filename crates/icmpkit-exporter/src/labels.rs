//! The labels of a target's series in little memory: the label names are
//! shared by every series of a configuration, and values are interned, so
//! what repeats from target to target (`source`, `tos`, the user labels,
//! `prober`) is stored once.

use std::collections::HashSet;
use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabel, EncodeLabelSet, LabelSetEncoder};

/// One series' labels: names (shared) and their values, in order. Equal
/// (and hashed) as Prometheus tells series apart: a label with an empty
/// value is no label (a reload that brings a new label name elsewhere
/// leaves this series the same series).
#[derive(Debug, Clone)]
pub struct SeriesLabels {
    names: Arc<[Box<str>]>,
    values: Box<[Arc<str>]>,
}

impl SeriesLabels {
    /// (name, value) pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.names
            .iter()
            .zip(self.values.iter())
            .map(|(n, v)| (&**n, &**v))
    }
}

impl SeriesLabels {
    /// The labels that tell the series apart: those with a value.
    fn identity(&self) -> impl Iterator<Item = (&str, &str)> {
        self.iter().filter(|(_, value)| !value.is_empty())
    }
}

impl PartialEq for SeriesLabels {
    fn eq(&self, other: &Self) -> bool {
        self.identity().eq(other.identity())
    }
}

impl Eq for SeriesLabels {}

impl std::hash::Hash for SeriesLabels {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for pair in self.identity() {
            pair.hash(state);
        }
    }
}

impl EncodeLabelSet for SeriesLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        for pair in self.iter() {
            pair.encode(encoder.encode_label())?;
        }
        Ok(())
    }
}

/// Builds the series of one configuration: one copy of the names, one of
/// each distinct value.
#[derive(Debug)]
pub struct LabelInterner {
    names: Arc<[Box<str>]>,
    values: HashSet<Arc<str>>,
}

impl LabelInterner {
    /// Series with these label names, in this order.
    pub fn new(names: &[&str]) -> LabelInterner {
        LabelInterner {
            names: names.iter().map(|&n| Box::from(n)).collect(),
            values: HashSet::new(),
        }
    }

    /// The label names, in order.
    pub fn names(&self) -> Arc<[Box<str>]> {
        Arc::clone(&self.names)
    }

    /// A series with `values`, one per name (missing ones empty).
    pub fn series(&mut self, values: &[&str]) -> SeriesLabels {
        let values = (0..self.names.len())
            .map(|i| self.intern(values.get(i).copied().unwrap_or("")))
            .collect();
        SeriesLabels {
            names: Arc::clone(&self.names),
            values,
        }
    }

    fn intern(&mut self, value: &str) -> Arc<str> {
        if let Some(known) = self.values.get(value) {
            return Arc::clone(known);
        }
        let value: Arc<str> = Arc::from(value);
        self.values.insert(Arc::clone(&value));
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_that_repeat_are_stored_once() {
        let mut interner = LabelInterner::new(&["host", "ip", "site"]);
        let a = interner.series(&["a.example", "192.0.2.1", "lab"]);
        let b = interner.series(&["b.example", "192.0.2.2", "lab"]);
        assert!(Arc::ptr_eq(&a.values[2], &b.values[2]));
        assert!(Arc::ptr_eq(&a.names, &b.names));
        assert_eq!(
            b.iter().collect::<Vec<_>>(),
            vec![("host", "b.example"), ("ip", "192.0.2.2"), ("site", "lab")]
        );
        let short = interner.series(&["c.example"]);
        assert_eq!(short.iter().last(), Some(("site", "")));
    }

    #[test]
    fn an_empty_label_is_no_label() {
        let a = LabelInterner::new(&["host", "tos"]).series(&["a.example", "0"]);
        let b = LabelInterner::new(&["host", "site", "tos"]).series(&["a.example", "", "0"]);
        let c = LabelInterner::new(&["host", "site", "tos"]).series(&["a.example", "lab", "0"]);
        assert_eq!(a, b);
        let hash = |l: &SeriesLabels| {
            use std::hash::{BuildHasher, RandomState};
            static STATE: std::sync::OnceLock<RandomState> = std::sync::OnceLock::new();
            STATE.get_or_init(RandomState::new).hash_one(l)
        };
        assert_eq!(hash(&a), hash(&b));
        assert_ne!(a, c);
    }

    #[test]
    fn they_encode_as_a_list_of_pairs_does() {
        use prometheus_client::encoding::EncodeMetric;
        use prometheus_client::encoding::prometheus_text::encode;
        use prometheus_client::metrics::counter::ConstCounter;
        use prometheus_client::registry::Registry;

        #[derive(Debug)]
        struct One<L>(L);
        impl<L: EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static>
            prometheus_client::collector::Collector for One<L>
        {
            fn encode(
                &self,
                mut encoder: prometheus_client::encoding::DescriptorEncoder,
            ) -> Result<(), std::fmt::Error> {
                let mut metric = encoder.encode_descriptor(
                    "x",
                    "X.",
                    None,
                    prometheus_client::metrics::MetricType::Counter,
                )?;
                ConstCounter::new(1u64).encode(metric.encode_family(&self.0)?)
            }
        }
        fn page<L: EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static>(l: L) -> String {
            let mut registry = Registry::default();
            registry.register_collector(Box::new(One(l)));
            let mut out = String::new();
            encode(&mut out, &registry).unwrap();
            out
        }
        let mut interner = LabelInterner::new(&["host", "tos"]);
        let series = interner.series(&["a\"b", "0"]);
        let pairs = vec![
            ("host".to_string(), "a\"b".to_string()),
            ("tos".to_string(), "0".to_string()),
        ];
        assert_eq!(page(series), page(pairs));
    }
}
