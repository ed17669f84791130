//! Reader tests across formats: what each accepts, and one test per error case, each
//! asserting the error names the line and the field.

use super::*;
use std::path::Path;

const P: &str = "events.csv";

fn read(
    format: Format,
    input: &[u8],
    skip: bool,
) -> Result<(Vec<RawEvent>, ReadReport), IngestError> {
    let mut out = Vec::new();
    let report = read_events_from(input, Path::new(P), format, skip, |_, e| {
        out.push(RawEvent::from(e))
    })?;
    Ok((out, report))
}

/// The row error of a failed read, as (line, field, problem).
fn row_err(format: Format, input: &[u8]) -> (u64, String, Problem) {
    match read(format, input, false) {
        Err(IngestError::Row(e)) => {
            // The message itself must carry the file, line and field too.
            let msg = e.to_string();
            assert!(
                msg.contains(P)
                    && msg.contains(&format!("line {}", e.line))
                    && msg.contains(&e.field),
                "{msg}"
            );
            (e.line, e.field, e.problem)
        }
        other => panic!("expected a row error, got {other:?}"),
    }
}

fn t(s: &str) -> i64 {
    crate::time::parse_timestamp(s).unwrap()
}

#[test]
fn contract_csv_any_column_order_quotes_bom_crlf_and_defaults() {
    let input =
        b"\xEF\xBB\xBFtimestamp,Item_ID,customer_id,event,quantity,price,order_id,extra\r\n\
        2020-01-02,\"i,1\",c1,view,2,3.5,o7,zz\r\n\
        \"2020-01-03T10:00:00Z\",i2,\"c \"\"2\"\"\",,,,,\r\n";
    let (ev, report) = read(Format::Csv, input, false).unwrap();
    assert_eq!(report.rows, 2);
    assert_eq!(report.ignored_columns, ["extra"]);
    assert_eq!(ev[0].customer_id, "c1");
    assert_eq!(ev[0].item_id, "i,1");
    assert_eq!(ev[0].timestamp, t("2020-01-02"));
    assert_eq!(ev[0].kind, EventKind::View);
    assert_eq!((ev[0].quantity, ev[0].price), (2.0, 3.5));
    assert_eq!(ev[0].order_id.as_deref(), Some("o7"));
    assert_eq!(ev[1].customer_id, "c \"2\"");
    assert_eq!(ev[1].timestamp, t("2020-01-03T10:00:00Z"));
    assert_eq!((ev[1].kind, ev[1].quantity), (EventKind::Purchase, 1.0));
    assert!(ev[1].price.is_nan());
    assert_eq!(ev[1].order_id, None);
}

#[test]
fn missing_required_column_names_header_line_and_column() {
    let err = read(Format::Csv, b"customer_id,item_id\nc,i\n", false).unwrap_err();
    match &err {
        IngestError::MissingColumn { line, column, .. } => {
            assert_eq!((*line, *column), (1, "timestamp"))
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("field \"timestamp\""), "{err}");
}

#[test]
fn duplicate_column_is_refused() {
    let err = read(
        Format::Csv,
        b"customer_id,item_id,timestamp,ITEM_ID\n",
        false,
    )
    .unwrap_err();
    assert!(
        matches!(err, IngestError::DuplicateColumn { line: 1, ref column, .. } if column == "item_id"),
        "{err:?}"
    );
}

#[test]
fn unparsable_timestamp_names_line_field_and_hints_the_format() {
    let input = b"customer_id,item_id,timestamp\nc,i,2020-01-01\nc,i,11/5/2000\n";
    assert_eq!(
        row_err(Format::Csv, input),
        (3, "timestamp".into(), Problem::BadTimestamp)
    );
    let Err(IngestError::Row(e)) = read(Format::Csv, input, false) else {
        unreachable!()
    };
    assert!(e.to_string().contains("--format tafeng"), "{e}");
}

#[test]
fn non_numeric_quantity_and_price_name_their_field() {
    let q = b"customer_id,item_id,timestamp,quantity,price\nc,i,2020-01-01,two,1\n";
    assert_eq!(
        row_err(Format::Csv, q),
        (2, "quantity".into(), Problem::NotANumber)
    );
    let p =
        b"customer_id,item_id,timestamp,quantity,price\nc,i,2020-01-01,2,1\nc,i,2020-01-01,2,$1\n";
    assert_eq!(
        row_err(Format::Csv, p),
        (3, "price".into(), Problem::NotANumber)
    );
}

#[test]
fn quantities_and_prices_beyond_their_range_name_line_and_field() {
    // 1e39 parses as a finite f64 but is infinity as the stored f32.
    let out = |p: Problem| matches!(p, Problem::OutOfRange { .. });
    let q = b"customer_id,item_id,timestamp,quantity,price\nc,i,2020-01-01,2,1\nc,i,2020-01-01,1e39,1\n";
    let (line, field, p) = row_err(Format::Csv, q);
    assert_eq!((line, field.as_str()), (3, "quantity"));
    assert!(out(p));
    let p = b"customer_id,item_id,timestamp,quantity,price\nc,i,2020-01-01,1,1e308\n";
    let (line, field, p) = row_err(Format::Csv, p);
    assert_eq!((line, field.as_str()), (2, "price"));
    assert!(out(p));
    let j = br#"{"customer_id":"c","item_id":"i","timestamp":"2020-01-01","quantity":1e39}"#;
    let (line, field, p) = row_err(Format::Jsonl, j);
    assert_eq!((line, field.as_str()), (1, "quantity"));
    assert!(out(p));
    let j = br#"{"customer_id":"c","item_id":"i","timestamp":"2020-01-01","price":"-5e12"}"#;
    let (line, field, p) = row_err(Format::Jsonl, j);
    assert_eq!((line, field.as_str()), (1, "price"));
    assert!(out(p));
    let Err(IngestError::Row(e)) = read(Format::Csv, q, false) else {
        unreachable!()
    };
    assert!(e.to_string().contains("at most 1000000"), "{e}");
    // The adapters derive a unit price from a total: it must fit too.
    let cdnow = b" 00001 19970101  1   1e300\r\n";
    let (line, field, p) = row_err(Format::Cdnow, cdnow);
    assert_eq!((line, field.as_str()), (1, "dollar_value"));
    assert!(out(p));
    // Within range, values are kept as given.
    let ok = b"customer_id,item_id,timestamp,quantity,price\nc,i,2020-01-01,1000000,999999999\n";
    let (ev, _) = read(Format::Csv, ok, false).unwrap();
    assert_eq!((ev[0].quantity, ev[0].price), (1e6, 999_999_999.0));
}

#[test]
fn ids_over_256_bytes_name_line_and_field() {
    let long = "x".repeat(257);
    let csv = format!(
        "customer_id,item_id,timestamp,order_id\nc,i,2020-01-01,o\nc,{long},2020-01-01,o\n"
    );
    assert_eq!(
        row_err(Format::Csv, csv.as_bytes()),
        (3, "item_id".into(), Problem::IdTooLong)
    );
    let csv = format!("customer_id,item_id,timestamp,order_id\nc,i,2020-01-01,{long}\n");
    assert_eq!(
        row_err(Format::Csv, csv.as_bytes()),
        (2, "order_id".into(), Problem::IdTooLong)
    );
    let jsonl =
        format!("{{\"customer_id\":\"{long}\",\"item_id\":\"i\",\"timestamp\":\"2020-01-01\"}}\n");
    assert_eq!(
        row_err(Format::Jsonl, jsonl.as_bytes()),
        (1, "customer_id".into(), Problem::IdTooLong)
    );
    let Err(IngestError::Row(e)) = read(Format::Jsonl, jsonl.as_bytes(), false) else {
        unreachable!()
    };
    assert!(e.to_string().contains("longer than 256 bytes"), "{e}");
    let ok = format!(
        "customer_id,item_id,timestamp\n{},i,2020-01-01\n",
        "y".repeat(256)
    );
    assert!(read(Format::Csv, ok.as_bytes(), false).is_ok());
}

#[test]
fn a_purchase_without_a_positive_quantity_is_refused_in_csv_and_jsonl() {
    // Line 3 is a return written as a negative purchase: counted as an order it would make
    // the customer look active; the error says how to record it.
    let csv = b"customer_id,item_id,timestamp,event,quantity\nc,i,2020-01-01,purchase,2\nc,i,2020-01-02,purchase,-2\n";
    assert_eq!(
        row_err(Format::Csv, csv),
        (3, "quantity".into(), Problem::PurchaseQuantity)
    );
    let Err(IngestError::Row(e)) = read(Format::Csv, csv, false) else {
        unreachable!()
    };
    assert!(e.to_string().contains("event = return"), "{e}");
    // Zero, and the purchase being the default event type, count too; returns may carry any
    // quantity.
    let csv = b"customer_id,item_id,timestamp,quantity\nc,i,2020-01-01,0\n";
    assert_eq!(
        row_err(Format::Csv, csv),
        (2, "quantity".into(), Problem::PurchaseQuantity)
    );
    let ok = b"customer_id,item_id,timestamp,event,quantity\nc,i,2020-01-01,return,-2\n";
    assert!(read(Format::Csv, ok, false).is_ok());
    let jsonl = b"{\"customer_id\":\"c\",\"item_id\":\"i\",\"timestamp\":\"2020-01-01\"}\n{\"customer_id\":\"c\",\"item_id\":\"i\",\"timestamp\":\"2020-01-02\",\"quantity\":-1}\n";
    assert_eq!(
        row_err(Format::Jsonl, jsonl),
        (2, "quantity".into(), Problem::PurchaseQuantity)
    );
}

#[test]
fn unknown_event_type_names_the_event_field() {
    let input = b"customer_id,item_id,timestamp,event\nc,i,2020-01-01,refund\n";
    assert_eq!(
        row_err(Format::Csv, input),
        (2, "event".into(), Problem::UnknownEventType)
    );
}

#[test]
fn wrong_number_of_fields_names_the_first_missing_column() {
    let short = b"customer_id,item_id,timestamp,price\nc,i,2020-01-01\n";
    assert_eq!(
        row_err(Format::Csv, short),
        (
            2,
            "price".into(),
            Problem::FieldCount {
                expected: 4,
                found: 3
            }
        )
    );
    let long = b"customer_id,item_id,timestamp\nc,i,2020-01-01,9\n";
    assert_eq!(
        row_err(Format::Csv, long),
        (
            2,
            "<column 4>".into(),
            Problem::FieldCount {
                expected: 3,
                found: 4
            }
        )
    );
}

#[test]
fn invalid_utf8_names_the_field() {
    let input = b"customer_id,item_id,timestamp\nc,\xFF\xFEx,2020-01-01\n";
    assert_eq!(
        row_err(Format::Csv, input),
        (2, "item_id".into(), Problem::InvalidUtf8)
    );
    let json = b"{\"customer_id\":\"c\",\"item_id\":\"\xFF\",\"timestamp\":\"2020-01-01\"}\n";
    assert_eq!(
        row_err(Format::Jsonl, json),
        (1, "<line>".into(), Problem::InvalidUtf8)
    );
}

#[test]
fn empty_required_value_is_missing() {
    let input = b"customer_id,item_id,timestamp\nc,i,2020-01-01\n ,i,2020-01-01\n";
    assert_eq!(
        row_err(Format::Csv, input),
        (3, "customer_id".into(), Problem::MissingValue)
    );
}

#[test]
fn empty_files_are_errors_in_every_format() {
    for format in [Format::Csv, Format::Jsonl, Format::Tafeng, Format::Cdnow] {
        let err = read(format, b"", false).unwrap_err();
        assert!(
            matches!(err, IngestError::Empty { .. }),
            "{format:?}: {err:?}"
        );
        assert!(err.to_string().contains(P));
    }
    let header_only =
        read(Format::Csv, b"customer_id,item_id,timestamp\r\n\r\n", false).unwrap_err();
    assert!(
        matches!(header_only, IngestError::NoEvents { .. }),
        "{header_only:?}"
    );
}

#[test]
fn a_line_over_one_mib_is_a_row_error_and_skippable() {
    let mut input = b"customer_id,item_id,timestamp\nc,i,2020-01-01\nc,".to_vec();
    input.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES));
    input.extend(b",2020-01-01\nc,j,2020-01-02\n");
    assert_eq!(
        row_err(Format::Csv, &input),
        (3, "<line>".into(), Problem::LineTooLong)
    );
    let (ev, report) = read(Format::Csv, &input, true).unwrap();
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[1].item_id, "j");
    assert_eq!(report.skipped.by_problem.get("line too long"), Some(&1));
}

#[test]
fn skip_bad_rows_counts_causes_keeps_examples_and_all_good_rows() {
    let mut input = b"customer_id,item_id,timestamp,quantity\n".to_vec();
    for k in 0..20 {
        input.extend(format!("c{k},i,2020-01-01,1\n").bytes());
        input.extend(format!("c{k},i,someday,1\n").bytes());
    }
    input.extend(b"c,i,2020-01-01,x\n");
    let (ev, report) = read(Format::Csv, &input, true).unwrap();
    assert_eq!(ev.len(), 20);
    assert_eq!(report.rows, 20);
    assert_eq!(report.skipped.total, 21);
    assert_eq!(report.skipped.by_problem.get("bad timestamp"), Some(&20));
    assert_eq!(report.skipped.by_problem.get("not a number"), Some(&1));
    assert_eq!(report.skipped.examples.len(), read::SKIP_EXAMPLES);
    assert_eq!(report.skipped.examples[0].line, 3);
    assert_eq!(report.skipped.examples[1].line, 5);
}

#[test]
fn jsonl_accepts_numeric_ids_defaults_and_extra_keys() {
    let input = b"{\"customer_id\":17,\"item_id\":\"a\",\"timestamp\":\"2020-01-01T00:00:01Z\",\"x\":[1]}\n\n\
        {\"customer_id\":\"c\",\"item_id\":\"b\",\"timestamp\":\"2020-01-02\",\"event\":\"cart\",\"quantity\":\"3\",\"price\":2.5,\"order_id\":9}\n";
    let (ev, _) = read(Format::Jsonl, input, false).unwrap();
    assert_eq!(ev.len(), 2);
    assert_eq!(
        (ev[0].customer_id.as_str(), ev[0].timestamp),
        ("17", 1 + t("2020-01-01"))
    );
    assert_eq!((ev[0].kind, ev[0].quantity), (EventKind::Purchase, 1.0));
    assert_eq!(
        (ev[1].kind, ev[1].quantity, ev[1].price),
        (EventKind::Cart, 3.0, 2.5)
    );
    assert_eq!(ev[1].order_id.as_deref(), Some("9"));
}

#[test]
fn jsonl_errors_name_line_and_key() {
    let ok = "{\"customer_id\":\"c\",\"item_id\":\"i\",\"timestamp\":\"2020-01-01\"}\n";
    let cases: [(&str, &str, Problem); 5] = [
        (
            "{\"item_id\":\"i\",\"timestamp\":\"2020-01-01\"}",
            "customer_id",
            Problem::MissingValue,
        ),
        (
            "{\"customer_id\":[1],\"item_id\":\"i\",\"timestamp\":\"2020-01-01\"}",
            "customer_id",
            Problem::WrongType,
        ),
        (
            "{\"customer_id\":\"c\",\"item_id\":\"i\",\"timestamp\":\"2020-01-01\",\"quantity\":\"lots\"}",
            "quantity",
            Problem::NotANumber,
        ),
        (
            "{\"customer_id\":\"c\",\"item_id\":\"i\",\"timestamp\":\"2020-01-01\",\"event\":\"like\"}",
            "event",
            Problem::UnknownEventType,
        ),
        (
            "{\"customer_id\":\"c\",\"item_id\":\"i\",\"timestamp\":\"19970101\"}",
            "timestamp",
            Problem::BadTimestamp,
        ),
    ];
    for (bad, field, problem) in cases {
        let input = format!("{ok}{bad}\n");
        assert_eq!(
            row_err(Format::Jsonl, input.as_bytes()),
            (2, field.into(), problem),
            "{bad}"
        );
    }
    let (line, field, problem) = row_err(Format::Jsonl, format!("{ok}{{not json\n").as_bytes());
    assert_eq!((line, field.as_str()), (2, "<line>"));
    assert!(matches!(problem, Problem::BadJson(_)));
}

const TAFENG: &[u8] = b"\xEF\xBB\xBF\"TRANSACTION_DT\",\"CUSTOMER_ID\",\"AGE_GROUP\",\"PIN_CODE\",\"PRODUCT_SUBCLASS\",\"PRODUCT_ID\",\"AMOUNT\",\"ASSET\",\"SALES_PRICE\"\r\n\
\"11/1/2000\",\"01104905\",\"45-49\",\"115\",\"110411\",\"4710199010372\",\"2\",\"24\",\"30\"\r\n\
\"11/1/2000\",\"01104905\",\"45-49\",\"115\",\"100407\",\"4710043654103\",\"1\",\"142\",\"166\"\r\n\
\"2/28/2001\",\"02000001\",\"\",\"Others\",\"110411\",\"4710199010372\",\"4\",\"48\",\"50\"\r\n";

#[test]
fn tafeng_as_shipped_gives_unit_prices_categories_and_attributes() {
    let (ev, _) = read(Format::Tafeng, TAFENG, false).unwrap();
    assert_eq!(ev.len(), 3);
    assert_eq!(ev[0].customer_id, "01104905");
    assert_eq!(ev[0].item_id, "4710199010372");
    assert_eq!(ev[0].timestamp, t("2000-11-01"));
    assert_eq!((ev[0].quantity, ev[0].price), (2.0, 15.0));
    assert_eq!(ev[2].price, 12.5);
    assert_eq!(ev[0].category.as_deref(), Some("110411"));
    assert_eq!(ev[2].timestamp, t("2001-02-28"));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ta_feng.csv");
    std::fs::write(&path, TAFENG).unwrap();
    let opts = LoadOptions {
        format: Some(Format::Tafeng),
        ..LoadOptions::default()
    };
    let (s, _) = load_events(&path, &opts).unwrap();
    assert_eq!((s.n_customers(), s.n_items(), s.n_baskets()), (2, 2, 2));
    let age = s.attribute("age_group").unwrap();
    assert_eq!(age.value(CustomerIdx(0)), Some("45-49"));
    assert_eq!(
        age.value(CustomerIdx(1)),
        None,
        "empty AGE_GROUP is missing"
    );
    assert_eq!(
        s.attribute("pin_code").unwrap().value(CustomerIdx(1)),
        Some("Others")
    );
}

#[test]
fn tafeng_errors_name_the_shipped_column() {
    let mut bad_date = TAFENG.to_vec();
    bad_date.extend(b"\"2001-02-28\",\"1\",\"\",\"115\",\"1\",\"9\",\"1\",\"1\",\"1\"\r\n");
    assert_eq!(
        row_err(Format::Tafeng, &bad_date),
        (5, "TRANSACTION_DT".into(), Problem::BadTimestamp)
    );
    let mut zero = TAFENG.to_vec();
    zero.extend(b"\"2/28/2001\",\"1\",\"\",\"115\",\"1\",\"9\",\"0\",\"1\",\"1\"\r\n");
    assert_eq!(
        row_err(Format::Tafeng, &zero),
        (5, "AMOUNT".into(), Problem::NotPositive)
    );
    let err = read(Format::Tafeng, b"customer_id,item_id,timestamp\n", false).unwrap_err();
    assert!(
        matches!(
            err,
            IngestError::MissingColumn {
                column: "TRANSACTION_DT",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn cdnow_master_and_sample_layouts() {
    let master = b" customer_id  date number_of_cds  dollar_value\r\n 00001 19970101  1   11.77\r\n 00002 19970112  1   12.00\r\n 00002 19970112  5   77.00\r\n";
    let (ev, _) = read(Format::Cdnow, master, false).unwrap();
    assert_eq!(ev.len(), 3);
    assert_eq!(
        (ev[2].customer_id.as_str(), ev[2].item_id.as_str()),
        ("00002", "cd")
    );
    assert_eq!((ev[2].quantity, ev[2].price), (5.0, 15.4));
    assert_eq!(ev[2].timestamp, t("1997-01-12"));
    let sample = b" 00004 0001 19970101  2   29.33\r\n 00004 0001 19970118  2   29.73\r\n";
    let (ev, _) = read(Format::Cdnow, sample, false).unwrap();
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[1].customer_id, "00004");
    assert_eq!(ev[1].timestamp, t("1997-01-18"));

    // Same-day rows of one customer are one basket.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("CDNOW_master.txt");
    std::fs::write(&path, master).unwrap();
    let opts = LoadOptions {
        format: Some(Format::Cdnow),
        ..LoadOptions::default()
    };
    let (s, _) = load_events(&path, &opts).unwrap();
    assert_eq!((s.len(), s.n_customers(), s.n_baskets()), (3, 2, 2));
}

#[test]
fn cdnow_errors_name_line_and_column() {
    let head = " customer_id  date number_of_cds  dollar_value\r\n 00001 19970101  1   11.77\r\n";
    let cases: [(&str, &str, Problem); 4] = [
        (
            " 00001 1997-01-01  1   11.77",
            "date",
            Problem::BadTimestamp,
        ),
        (
            " 00001 19970101  x   11.77",
            "number_of_cds",
            Problem::NotANumber,
        ),
        (
            " 00001 19970101  1   $11",
            "dollar_value",
            Problem::NotANumber,
        ),
        (
            " 00001 19970101  1",
            "dollar_value",
            Problem::FieldCount {
                expected: 4,
                found: 3,
            },
        ),
    ];
    for (bad, field, problem) in cases {
        let input = format!("{head}{bad}\r\n");
        assert_eq!(
            row_err(Format::Cdnow, input.as_bytes()),
            (3, field.into(), problem),
            "{bad}"
        );
    }
}

#[test]
fn format_is_guessed_from_the_extension_or_refused() {
    assert_eq!(Format::guess(Path::new("a/b.CSV")).unwrap(), Format::Csv);
    assert_eq!(Format::guess(Path::new("x.ndjson")).unwrap(), Format::Jsonl);
    assert_eq!(Format::guess(Path::new("x.jsonl")).unwrap(), Format::Jsonl);
    assert!(matches!(
        Format::guess(Path::new("CDNOW_master.txt")),
        Err(IngestError::UnknownFormat { .. })
    ));
    assert_eq!(
        Format::resolve(Some(Format::Cdnow), Path::new("x.csv")).unwrap(),
        Format::Cdnow
    );
}

#[test]
fn missing_file_is_an_io_error_naming_the_path() {
    let err = load_events(Path::new("/nonexistent/e.csv"), &LoadOptions::default()).unwrap_err();
    assert!(matches!(err, IngestError::Io { .. }));
    assert!(err.to_string().contains("/nonexistent/e.csv"));
}

#[test]
fn load_with_side_files_round_trips_ids_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("e.jsonl");
    std::fs::write(&events, "{\"customer_id\":\"c2\",\"item_id\":\"i1\",\"timestamp\":\"2020-01-05\"}\n\
        {\"customer_id\":\"c1\",\"item_id\":\"i2\",\"timestamp\":\"2020-01-01\",\"event\":\"return\"}\n").unwrap();
    let items = dir.path().join("items.csv");
    std::fs::write(&items, "item_id,category\ni2,toys\ni3,books\n").unwrap();
    let opts = LoadOptions {
        items: Some(items),
        ..LoadOptions::default()
    };
    let (s, report) = load_events(&events, &opts).unwrap();
    assert_eq!(report.format, Some(Format::Jsonl));
    assert_eq!(s.n_items(), 3);
    assert_eq!(s.category_of(s.item_idx("i3").unwrap()), Some("books"));
    let c1 = s.customer_idx("c1").unwrap();
    let r = s.customer_events(c1);
    assert_eq!(s.kind[r.start], EventKind::Return);
    let stats = Stats::new(&s, &report);
    assert_eq!(
        (stats.rows, stats.customers, stats.items, stats.items_total),
        (2, 2, 2, 3)
    );
    assert_eq!(
        (stats.events_by_kind.returns, stats.events_by_kind.purchase),
        (1, 1)
    );
}

#[test]
fn excluded_customers_leave_no_trace_and_extra_events_are_added() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("e.csv");
    let mut text = String::from("customer_id,item_id,timestamp\n");
    for k in 0..200 {
        text.push_str(&format!(
            "c{},i{},2020-01-{:02}\n",
            k % 7,
            k % 5,
            1 + k % 28
        ));
    }
    std::fs::write(&events, &text).unwrap();
    let customers = dir.path().join("customers.csv");
    std::fs::write(&customers, "customer_id,tier\nc3,gold\nc4,silver\n").unwrap();
    let mut late = RawEvent::purchase("new", "i9", 1_600_000_000);
    late.price = 2.0;
    let opts = LoadOptions {
        customers: Some(customers),
        exclude_customers: ["c3".to_string(), "nobody".to_string()].into(),
        extra_events: vec![
            late,
            RawEvent::purchase("c3", "i1", 1_600_000_000),
            RawEvent::purchase("c4", "i1", 1_600_000_000),
        ],
        ..LoadOptions::default()
    };
    let (s, report) = load_events(&events, &opts).unwrap();
    let c3_rows = (0..200).filter(|k| k % 7 == 3).count() as u64;
    assert_eq!(report.events.rows, 200);
    assert_eq!(report.events.excluded, c3_rows);
    assert_eq!((report.extra_events, report.extra_excluded), (2, 1));
    assert_eq!(report.customers.as_ref().unwrap().excluded, 1);
    assert_eq!(s.customer_idx("c3"), None);
    assert_eq!(s.len() as u64, 200 - c3_rows + 2);
    let new = s.customer_idx("new").unwrap();
    assert_eq!(s.customer_events(new).len(), 1);
    assert_eq!(
        s.item_idx("i9").map(|i| s.items.name(i.0)),
        Some(Some("i9"))
    );
    let c4 = s.customer_idx("c4").unwrap();
    assert_eq!(s.attribute("tier").unwrap().value(c4), Some("silver"));
    let (all, _) = load_events(&events, &LoadOptions::default()).unwrap();
    assert!(all.customer_idx("c3").is_some());
}

#[test]
fn line_level_errors_name_the_line_in_the_line_formats_and_the_rest_is_kept() {
    let mut long = b"00001 19970101 1 10.00\n".to_vec();
    long.extend(std::iter::repeat_n(b'9', MAX_LINE_BYTES + 1));
    long.extend(b"\n\xFF\xFE 19970102 1 5.00\n00002 19970103 2 8.00\n");
    assert_eq!(
        row_err(Format::Cdnow, &long),
        (2, "<line>".into(), Problem::LineTooLong)
    );
    let (ev, report) = read(Format::Cdnow, &long, true).unwrap();
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[1].customer_id, "00002");
    assert_eq!(report.skipped.by_problem.get("line too long"), Some(&1));
    assert_eq!(report.skipped.by_problem.get("invalid utf-8"), Some(&1));
    // A JSON Lines file whose only line is bad is not "empty": the bad line is what it says.
    let err = read(Format::Jsonl, b"\n\xFF\n", false).unwrap_err();
    assert!(
        matches!(&err, IngestError::Row(e) if e.line == 2 && e.problem == Problem::InvalidUtf8),
        "{err:?}"
    );
    let (ev, report) = read(Format::Jsonl, b"\n\xFF\n", true).unwrap();
    assert!(ev.is_empty());
    assert_eq!(report.skipped.by_problem.get("invalid utf-8"), Some(&1));
}
