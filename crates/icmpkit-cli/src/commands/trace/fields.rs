//! mtr's statistics fields, by its `-o` letters: the one column list of
//! `trace --report`, `mtr -r/-w` and the live view's table.

use std::time::Duration;

use icmpkit::RttSummary;
use icmpkit::trace::{Hop, HopStatistics, RttRun};

/// What the fields read from a hop, whether it comes from a finished trace
/// ([`Hop`]) or from a live one ([`HopStatistics`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    pub sent: u64,
    pub received: u64,
    pub loss: f64,
    pub last: Option<Duration>,
    pub rtt: RttSummary,
    pub run: RttRun,
}

impl Figures {
    /// A finished trace's hop (its RTTs in probe order).
    pub fn of_hop(hop: &Hop) -> Figures {
        Figures {
            sent: hop.packets_sent as u64,
            received: hop.packets_received as u64,
            loss: hop.packet_loss,
            last: hop.last_rtt,
            rtt: hop.rtt,
            run: RttRun::of(&hop.rtts),
        }
    }

    /// A live trace's hop.
    pub fn of_statistics(hop: &HopStatistics) -> Figures {
        Figures {
            sent: hop.sent,
            received: hop.received,
            loss: hop.loss(),
            last: hop.last_rtt(),
            rtt: hop.rtt(),
            run: *hop.run(),
        }
    }
}

/// A field's value, printed the field's way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A percentage (0 to 100).
    Percent(f64),
    Count(u64),
    /// Milliseconds; `None` where nothing answered.
    Ms(Option<Duration>),
    /// mtr's `' '`: a blank column.
    Blank,
}

/// One of mtr's fields.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Its `-o` letter.
    pub letter: char,
    /// Its column title.
    pub title: &'static str,
    /// Its width in mtr's report, the space before it included.
    pub width: usize,
    value: fn(&Figures) -> Value,
}

impl Field {
    /// Its value for a hop.
    pub fn value(&self, figures: &Figures) -> Value {
        (self.value)(figures)
    }

    /// The value as mtr's report prints it (its printf formats: ` %4.1f%%`,
    /// ` %5d`, ` %5.1f`, ` %4.1f`...; silent hops show 0.0), at least
    /// [`Field::width`] long.
    pub fn report_text(&self, figures: &Figures) -> String {
        let w = self.width - 1;
        match self.value(figures) {
            Value::Percent(p) => format!(" {:w$.1}%", p, w = w - 1),
            Value::Count(n) => format!(" {n:w$}"),
            Value::Ms(d) => format!(" {:w$.1}", d.map_or(0.0, ms)),
            Value::Blank => " ".to_string(),
        }
    }

    /// The value as a cell of the live view (blank where nothing answered).
    pub fn cell_text(&self, figures: &Figures) -> String {
        match self.value(figures) {
            Value::Percent(p) => format!("{p:.1}%"),
            Value::Count(n) => n.to_string(),
            Value::Ms(d) => d.map_or_else(String::new, |d| format!("{:.1}", ms(d))),
            Value::Blank => String::new(),
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

/// Every field, with mtr 0.95's titles and widths.
pub const FIELDS: [Field; 15] = [
    Field {
        letter: ' ',
        title: " ",
        width: 1,
        value: |_| Value::Blank,
    },
    Field {
        letter: 'L',
        title: "Loss%",
        width: 6,
        value: |f| Value::Percent(f.loss * 100.0),
    },
    Field {
        letter: 'D',
        title: "Drop",
        width: 5,
        value: |f| Value::Count(f.sent.saturating_sub(f.received)),
    },
    Field {
        letter: 'R',
        title: "Rcv",
        width: 6,
        value: |f| Value::Count(f.received),
    },
    Field {
        letter: 'S',
        title: "Snt",
        width: 6,
        value: |f| Value::Count(f.sent),
    },
    Field {
        letter: 'N',
        title: "Last",
        width: 6,
        value: |f| Value::Ms(f.last),
    },
    Field {
        letter: 'B',
        title: "Best",
        width: 6,
        value: |f| Value::Ms(f.rtt.min),
    },
    Field {
        letter: 'A',
        title: "Avg",
        width: 6,
        value: |f| Value::Ms(f.rtt.avg),
    },
    Field {
        letter: 'W',
        title: "Wrst",
        width: 6,
        value: |f| Value::Ms(f.rtt.max),
    },
    Field {
        letter: 'V',
        title: "StDev",
        width: 6,
        value: |f| Value::Ms(f.rtt.mdev),
    },
    Field {
        letter: 'G',
        title: "Gmean",
        width: 6,
        value: |f| Value::Ms(f.run.geometric_mean()),
    },
    Field {
        letter: 'J',
        title: "Jttr",
        width: 5,
        value: |f| Value::Ms(f.run.last_jitter()),
    },
    Field {
        letter: 'M',
        title: "Javg",
        width: 5,
        value: |f| Value::Ms(f.rtt.jitter),
    },
    Field {
        letter: 'X',
        title: "Jmax",
        width: 5,
        value: |f| Value::Ms(f.run.max_jitter()),
    },
    Field {
        letter: 'I',
        title: "Jint",
        width: 5,
        value: |f| Value::Ms(f.run.interarrival_jitter()),
    },
];

/// mtr's default order: Loss%, Snt, a blank, Last, Avg, Best, Wrst, StDev.
pub const DEFAULT_ORDER: &str = "LS NABWV";

/// The live view's jitter columns (`j`): Loss%, Snt, Last, Jttr, Javg,
/// Jmax.
pub const JITTER_ORDER: &str = "LSNJMX";

/// The fields `-o` names, in its order (mtr's letters, case as mtr: upper).
/// mtr also takes `_` and shows nothing for it: so does this.
pub fn parse_order(order: &str) -> Result<Vec<Field>, String> {
    let letters: Vec<char> = order.chars().filter(|&c| c != '_').collect();
    if letters.is_empty() {
        return Err("-o: no field given".into());
    }
    letters
        .into_iter()
        .map(|letter| {
            FIELDS
                .iter()
                .find(|f| f.letter == letter)
                .copied()
                .ok_or_else(|| {
                    let known: String = FIELDS.iter().skip(1).map(|f| f.letter).collect();
                    format!("-o: unknown field {letter:?} (known: {known} and space)")
                })
        })
        .collect()
}

/// clap's parser of `-o FIELDS`: refused at once, with the letters known.
pub fn order(text: &str) -> Result<String, String> {
    parse_order(text).map(|_| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(sent: u64, rtts_ms: &[u64]) -> Figures {
        let rtts: Vec<Duration> = rtts_ms.iter().map(|&m| Duration::from_millis(m)).collect();
        let received = rtts.len() as u64;
        Figures {
            sent,
            received,
            loss: 1.0 - received as f64 / sent as f64,
            last: rtts.last().copied(),
            rtt: RttSummary::of(&rtts),
            run: RttRun::of(&rtts),
        }
    }

    #[test]
    fn every_letter_mtr_has_and_nothing_else() {
        let letters: String = FIELDS.iter().map(|f| f.letter).collect();
        assert_eq!(letters, " LDRSNBAWVGJMXI");
        let fields = parse_order("LDRSNBAWVGJMXI").unwrap();
        assert_eq!(fields.len(), 14);
        let error = parse_order("LSZ").unwrap_err();
        assert!(error.contains("unknown field 'Z'"), "{error}");
        // mtr's letters are upper case: 'l' is not 'L'.
        assert!(parse_order("l").is_err());
        assert!(parse_order("").is_err());
        // mtr takes '_' and shows nothing for it (`-o LS_NAB` is `LSNAB`).
        let letters = |order: &str| -> String {
            parse_order(order)
                .unwrap()
                .iter()
                .map(|f| f.letter)
                .collect()
        };
        assert_eq!(letters("LS_NAB"), "LSNAB");
        assert!(parse_order("__").is_err());
    }

    /// mtr's printf formats, byte for byte (mtr 0.95's `-o LDRSNBAWVGJMXI`
    /// on a lab path).
    #[test]
    fn report_texts_are_mtrs() {
        let f = figures(4, &[1, 4, 16]);
        let texts: Vec<String> = parse_order("LDRSNBAWVGJMXI")
            .unwrap()
            .iter()
            .map(|field| field.report_text(&f))
            .collect();
        assert_eq!(
            texts,
            [
                " 25.0%", "    1", "     3", "     4", "  16.0", "   1.0", "   7.0", "  16.0",
                "   6.5", "   4.0", " 12.0", "  7.5", " 12.0", "  0.9"
            ]
        );
        let silent = figures(3, &[]);
        let loss = FIELDS[1];
        // One character more than the field: the next field's space
        // overwrites the `%` (see report.rs).
        assert_eq!(loss.report_text(&silent), " 100.0%");
        assert_eq!(FIELDS[5].report_text(&silent), "   0.0");
        assert_eq!(FIELDS[5].cell_text(&silent), "");
        assert_eq!(loss.cell_text(&silent), "100.0%");
    }
}
