//! One event row as the readers yield it, and the per-field parsers they share.

use super::error::Problem;

/// What the customer did. `#[repr(u8)]` so the store keeps one byte per event.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum EventKind {
    /// A bought line (the default when a log has no event column).
    Purchase = 0,
    /// A product page view.
    View = 1,
    /// An add-to-cart.
    Cart = 2,
    /// A returned line.
    Return = 3,
}

impl EventKind {
    /// Every kind, in discriminant order (index with `kind as usize`).
    pub const ALL: [EventKind; 4] = [
        EventKind::Purchase,
        EventKind::View,
        EventKind::Cart,
        EventKind::Return,
    ];

    /// The wire name (`purchase`, `view`, `cart`, `return`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Purchase => "purchase",
            EventKind::View => "view",
            EventKind::Cart => "cart",
            EventKind::Return => "return",
        }
    }

    /// Parses a wire name, ignoring ASCII case and surrounding spaces; empty means purchase.
    pub fn parse(s: &str) -> Result<EventKind, Problem> {
        let s = s.trim();
        Ok(if s.is_empty() || s.eq_ignore_ascii_case("purchase") {
            EventKind::Purchase
        } else if s.eq_ignore_ascii_case("view") {
            EventKind::View
        } else if s.eq_ignore_ascii_case("cart") {
            EventKind::Cart
        } else if s.eq_ignore_ascii_case("return") {
            EventKind::Return
        } else {
            return Err(Problem::UnknownEventType);
        })
    }
}

/// One event borrowed from the reader's buffer: no allocation per row.
///
/// Readers call back with `&Event` for every valid row, in file order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event<'a> {
    /// External customer id.
    pub customer_id: &'a str,
    /// External item id.
    pub item_id: &'a str,
    /// Seconds since the epoch, UTC.
    pub timestamp: i64,
    /// What happened.
    pub kind: EventKind,
    /// Units (default 1).
    pub quantity: f32,
    /// Unit price; NaN when the log has none.
    pub price: f32,
    /// Basket id; `None` means "the customer's basket of that calendar day".
    pub order_id: Option<&'a str>,
    /// Item category carried on the row (Ta-Feng's `PRODUCT_SUBCLASS`, a CSV `category`).
    pub category: Option<&'a str>,
    /// Customer attributes carried on the row, as `(name, value)`; `None` = missing.
    pub customer_attrs: &'a [(&'a str, Option<&'a str>)],
}

/// An owned event, for building small stores in memory (tests, the server's journal).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RawEvent {
    /// External customer id.
    pub customer_id: String,
    /// External item id.
    pub item_id: String,
    /// Seconds since the epoch, UTC.
    pub timestamp: i64,
    /// What happened.
    pub kind: EventKind,
    /// Units.
    pub quantity: f32,
    /// Unit price; NaN when unknown.
    pub price: f32,
    /// Basket id; `None` = customer + calendar day.
    pub order_id: Option<String>,
    /// Item category, if known.
    pub category: Option<String>,
}

impl RawEvent {
    /// A purchase of one unit with no price, order or category.
    pub fn purchase(customer_id: &str, item_id: &str, timestamp: i64) -> Self {
        RawEvent {
            customer_id: customer_id.to_string(),
            item_id: item_id.to_string(),
            timestamp,
            kind: EventKind::Purchase,
            quantity: 1.0,
            price: f32::NAN,
            order_id: None,
            category: None,
        }
    }

    /// Checks the data contract the file readers enforce while parsing: non-empty ids
    /// without surrounding space, a finite quantity, a finite or missing (NaN) price, and no
    /// empty order id or category. Returns the offending field and problem.
    ///
    /// The readers also refuse purchases without a positive quantity; that rule is newer than
    /// some event journals, whose acknowledged events must still replay, so it is not here.
    pub fn validate(&self) -> Result<(), (&'static str, Problem)> {
        for (field, value) in [
            ("customer_id", &self.customer_id),
            ("item_id", &self.item_id),
        ] {
            if non_empty(value) != Some(value.as_str()) {
                return Err((field, Problem::MissingValue));
            }
        }
        for (field, value) in [("order_id", &self.order_id), ("category", &self.category)] {
            if let Some(v) = value
                && non_empty(v) != Some(v.as_str())
            {
                return Err((field, Problem::MissingValue));
            }
        }
        if !self.quantity.is_finite() {
            return Err(("quantity", Problem::NotANumber));
        }
        if self.price.is_infinite() {
            return Err(("price", Problem::NotANumber));
        }
        Ok(())
    }

    /// Borrows this event in the readers' row shape.
    pub fn as_event(&self) -> Event<'_> {
        Event {
            customer_id: &self.customer_id,
            item_id: &self.item_id,
            timestamp: self.timestamp,
            kind: self.kind,
            quantity: self.quantity,
            price: self.price,
            order_id: self.order_id.as_deref(),
            category: self.category.as_deref(),
            customer_attrs: &[],
        }
    }
}

impl From<&Event<'_>> for RawEvent {
    fn from(e: &Event<'_>) -> Self {
        RawEvent {
            customer_id: e.customer_id.to_string(),
            item_id: e.item_id.to_string(),
            timestamp: e.timestamp,
            kind: e.kind,
            quantity: e.quantity,
            price: e.price,
            order_id: e.order_id.map(str::to_string),
            category: e.category.map(str::to_string),
        }
    }
}

/// Longest accepted id (customer, item, order), in bytes: ids are keys in maps, journal
/// records and URLs, and a megabyte "id" is an error, not a customer.
pub const MAX_ID_BYTES: usize = 256;

/// An id as accepted: at most [`MAX_ID_BYTES`] long.
pub fn id_value(s: &str) -> Result<&str, Problem> {
    if s.len() > MAX_ID_BYTES {
        Err(Problem::IdTooLong)
    } else {
        Ok(s)
    }
}

/// Largest accepted quantity magnitude: units of one line.
pub const MAX_QUANTITY: f64 = 1e6;
/// Largest accepted unit-price magnitude. With [`MAX_QUANTITY`] a line's value stays below
/// 1e15 and any plausible sum of lines far below `f32::MAX` (3.4e38), so spends and values
/// never overflow to infinity.
pub const MAX_PRICE: f64 = 1e9;

/// A quantity as stored: finite and at most [`MAX_QUANTITY`] in magnitude.
pub fn quantity_value(v: f64) -> Result<f32, Problem> {
    in_range(v, MAX_QUANTITY, "1000000")
}

/// A unit price as stored: finite and at most [`MAX_PRICE`] in magnitude.
pub fn price_value(v: f64) -> Result<f32, Problem> {
    in_range(v, MAX_PRICE, "1000000000")
}

fn in_range(v: f64, max: f64, limit: &'static str) -> Result<f32, Problem> {
    if !v.is_finite() {
        Err(Problem::NotANumber)
    } else if v.abs() > max {
        Err(Problem::OutOfRange { limit })
    } else {
        Ok(v as f32)
    }
}

/// Parses a finite number (surrounding spaces allowed); the fast path handles plain integers,
/// which are most quantities and many prices, without the float parser.
pub fn parse_number(s: &str) -> Result<f64, Problem> {
    let t = s.trim();
    let b = t.as_bytes();
    if !b.is_empty() && b.len() <= 15 && b.iter().all(u8::is_ascii_digit) {
        let mut v = 0u64;
        for &c in b {
            v = v * 10 + u64::from(c - b'0');
        }
        return Ok(v as f64);
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(Problem::NotANumber),
    }
}

/// Trims a field and maps empty to `None`.
pub fn non_empty(s: &str) -> Option<&str> {
    // Most fields have no surrounding space: two byte checks instead of a Unicode trim.
    match s.as_bytes() {
        [] => None,
        [first, .., last] | [first @ last]
            if first.is_ascii_graphic() && last.is_ascii_graphic() =>
        {
            Some(s)
        }
        _ => {
            let t = s.trim();
            (!t.is_empty()).then_some(t)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_kinds_parse_case_insensitively_and_default_to_purchase() {
        assert_eq!(EventKind::parse(""), Ok(EventKind::Purchase));
        assert_eq!(EventKind::parse(" View "), Ok(EventKind::View));
        assert_eq!(EventKind::parse("CART"), Ok(EventKind::Cart));
        assert_eq!(EventKind::parse("return"), Ok(EventKind::Return));
        assert_eq!(EventKind::parse("refund"), Err(Problem::UnknownEventType));
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Ok(k));
            assert_eq!(EventKind::ALL[k as usize], k);
        }
    }

    #[test]
    fn raw_events_are_validated_like_parsed_rows() {
        let ok = RawEvent::purchase("c1", "i1", 0);
        assert_eq!(ok.validate(), Ok(()));
        let with = |f: &dyn Fn(&mut RawEvent)| {
            let mut e = ok.clone();
            f(&mut e);
            e.validate()
        };
        assert_eq!(
            with(&|e| e.customer_id.clear()),
            Err(("customer_id", Problem::MissingValue))
        );
        assert_eq!(
            with(&|e| e.item_id = " i1".into()),
            Err(("item_id", Problem::MissingValue))
        );
        assert_eq!(
            with(&|e| e.order_id = Some(String::new())),
            Err(("order_id", Problem::MissingValue))
        );
        assert_eq!(
            with(&|e| e.quantity = f32::NAN),
            Err(("quantity", Problem::NotANumber))
        );
        // Journals written before the readers refused non-positive purchases still replay.
        assert_eq!(with(&|e| e.quantity = -3.0), Ok(()));
        assert_eq!(
            with(&|e| e.price = f32::INFINITY),
            Err(("price", Problem::NotANumber))
        );
        assert_eq!(with(&|e| e.price = 2.5), Ok(()));
    }

    #[test]
    fn non_empty_trims_unicode_and_ascii_space() {
        assert_eq!(non_empty(""), None);
        assert_eq!(non_empty("  \t"), None);
        assert_eq!(non_empty("a"), Some("a"));
        assert_eq!(non_empty(" a b "), Some("a b"));
        assert_eq!(non_empty("\u{a0}x\u{3000}"), Some("x"));
        assert_eq!(non_empty("é"), Some("é"));
    }

    #[test]
    fn quantities_and_prices_must_fit_their_range() {
        assert_eq!(quantity_value(3.0), Ok(3.0));
        assert_eq!(quantity_value(-2.0), Ok(-2.0));
        assert_eq!(quantity_value(MAX_QUANTITY), Ok(1e6));
        // Finite as f64 but infinite as f32: refused, not stored as infinity.
        assert!(matches!(
            quantity_value(1e39),
            Err(Problem::OutOfRange { .. })
        ));
        assert!(matches!(
            quantity_value(1e7),
            Err(Problem::OutOfRange { .. })
        ));
        assert!(matches!(
            price_value(1e308),
            Err(Problem::OutOfRange { .. })
        ));
        assert_eq!(price_value(f64::NAN), Err(Problem::NotANumber));
        assert_eq!(price_value(19.99), Ok(19.99));
        // The largest line value stays finite (and far from f32::MAX) in f32.
        let line = quantity_value(MAX_QUANTITY).unwrap() * price_value(MAX_PRICE).unwrap();
        assert!(line.is_finite() && line < 1e16);
    }

    #[test]
    fn numbers_parse_integers_decimals_and_reject_junk() {
        assert_eq!(parse_number("42"), Ok(42.0));
        assert_eq!(parse_number(" 3.25 "), Ok(3.25));
        assert_eq!(parse_number("-1.5"), Ok(-1.5));
        assert_eq!(parse_number("1e3"), Ok(1000.0));
        assert_eq!(parse_number("12345678901234567"), Ok(12345678901234567.0));
        for bad in ["", "abc", "1,5", "NaN", "inf", "3 4"] {
            assert_eq!(parse_number(bad), Err(Problem::NotANumber), "{bad:?}");
        }
    }
}
