//! Structs that know their fields' doc comments at run time, so one declaration serves the
//! code, the commented config file (`propensity-train config --defaults`) and the CLI help
//! of the tabular GBDT flags (LightGBM's `config.h` is the model).

/// A struct whose fields' doc comments are known at run time.
pub trait Documented {
    /// `(field, raw doc comment lines joined)` in declaration order.
    const FIELDS: &'static [(&'static str, &'static str)];

    /// The doc comment of `field` as one line, if it is one of this struct's fields.
    fn doc_of(field: &str) -> Option<String> {
        Self::FIELDS
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, doc)| doc.split_whitespace().collect::<Vec<_>>().join(" "))
    }
}

/// Declares a struct (attributes, then fields with only `///` comments on them) and
/// implements [`Documented`] for it from those comments.
#[macro_export]
macro_rules! documented {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $fvis:vis $field:ident : $ty:ty
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $( $(#[doc = $doc])* $fvis $field: $ty, )*
        }

        impl $crate::documented::Documented for $name {
            const FIELDS: &'static [(&'static str, &'static str)] = &[
                $( (stringify!($field), concat!($($doc, " ",)*)), )*
            ];
        }
    };
}

/// Command-line flags for every field of a documented struct `T`: `--field-name VALUE`,
/// its doc comment as the help with the default shown, and parsed values checked by
/// deserialising a `T`. Flatten it into a clap command; [`Flags::value`] gives the `T`.
#[derive(Debug, Clone)]
pub struct Flags<T> {
    /// Values given on the command line, by field name.
    given: serde_json::Map<String, serde_json::Value>,
    _of: std::marker::PhantomData<T>,
}

/// How a flag's text becomes a field value, read off the field's default.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Integer,
    Float,
    Text,
    /// An unset option (e.g. `max_depth`): an integer, `<= 0` leaves it unset.
    OptionalInteger,
}

impl<T> Flags<T>
where
    T: Documented + Default + serde::Serialize + serde::de::DeserializeOwned,
{
    fn defaults() -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(T::default()) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        }
    }

    /// `T::default()` with the flags given on the command line applied.
    pub fn value(&self) -> Result<T, String> {
        let mut map = Self::defaults();
        map.extend(self.given.clone());
        serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| e.to_string())
    }

    fn parse(field: &'static str, kind: Kind, text: &str) -> Result<serde_json::Value, String> {
        use serde_json::Value;
        let value = match kind {
            Kind::Integer => Value::from(
                text.parse::<u64>()
                    .map_err(|_| format!("expected a whole number >= 0, got {text:?}"))?,
            ),
            Kind::OptionalInteger => match text.parse::<i64>() {
                Ok(n) if n <= 0 => Value::Null,
                Ok(n) => Value::from(n),
                Err(_) => return Err(format!("expected a whole number, got {text:?}")),
            },
            Kind::Float => Value::from(
                text.parse::<f64>()
                    .map_err(|_| format!("expected a number, got {text:?}"))?,
            ),
            Kind::Text => Value::from(text),
        };
        // Check the value as the struct reads it (enum names, ranges of the type).
        let mut map = Self::defaults();
        map.insert(field.to_string(), value.clone());
        serde_json::from_value::<T>(Value::Object(map)).map_err(|e| e.to_string())?;
        Ok(value)
    }
}

impl<T> clap::FromArgMatches for Flags<T>
where
    T: Documented + Default + serde::Serialize + serde::de::DeserializeOwned,
{
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut given = serde_json::Map::new();
        for (field, _) in T::FIELDS {
            if let Ok(Some(v)) = matches.try_get_one::<serde_json::Value>(field) {
                given.insert(field.to_string(), v.clone());
            }
        }
        Ok(Flags {
            given,
            _of: std::marker::PhantomData,
        })
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl<T> clap::Args for Flags<T>
where
    T: Documented + Default + serde::Serialize + serde::de::DeserializeOwned,
{
    fn augment_args(mut cmd: clap::Command) -> clap::Command {
        let defaults = Self::defaults();
        for (field, doc) in T::FIELDS {
            let field: &'static str = field;
            let default = defaults.get(field).cloned().unwrap_or_default();
            let kind = match &default {
                serde_json::Value::Null => Kind::OptionalInteger,
                serde_json::Value::Number(n) if n.is_u64() || n.is_i64() => Kind::Integer,
                serde_json::Value::Number(_) => Kind::Float,
                serde_json::Value::String(_) => Kind::Text,
                // Tables and lists have no flag.
                _ => continue,
            };
            let shown = match (&default, kind) {
                (serde_json::Value::Null, _) => "unset; <= 0 leaves it unset".to_string(),
                (serde_json::Value::String(s), _) => s.clone(),
                (v, _) => v.to_string(),
            };
            let doc = doc.split_whitespace().collect::<Vec<_>>().join(" ");
            let long: &'static str = field.replace('_', "-").leak();
            cmd = cmd.arg(
                clap::Arg::new(field)
                    .long(long)
                    .value_name(&*field.to_uppercase().leak())
                    .help(format!("{doc} [default: {shown}]"))
                    // Negative numbers are values (refused or meaning "unset"), not flags.
                    .allow_hyphen_values(true)
                    .value_parser(move |text: &str| Self::parse(field, kind, text)),
            );
        }
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

#[cfg(test)]
mod tests {
    use super::Documented;

    crate::documented! {
        /// A test struct.
        #[derive(Debug, Default)]
        struct Example {
            /// First line
            /// second line.
            pub a: u32,
            b: Vec<String>,
        }
    }

    #[test]
    fn fields_carry_their_comments_in_order() {
        assert_eq!(Example::FIELDS.len(), 2);
        assert_eq!(Example::FIELDS[0].0, "a");
        assert_eq!(
            Example::doc_of("a").as_deref(),
            Some("First line second line.")
        );
        assert_eq!(Example::doc_of("b").as_deref(), Some(""));
        assert_eq!(Example::doc_of("c"), None);
        let e = Example::default();
        assert_eq!((e.a, e.b.len()), (0, 0));
    }

    crate::documented! {
        /// Flags test struct.
        #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(default)]
        struct Knobs {
            /// Rounds to run.
            rounds: usize,
            /// Step size.
            rate: f64,
            /// Depth limit.
            depth: Option<usize>,
            /// Loss name.
            loss: Loss,
        }
    }

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Loss {
        Square,
        Absolute,
    }

    impl Default for Knobs {
        fn default() -> Self {
            Knobs {
                rounds: 100,
                rate: 0.1,
                depth: None,
                loss: Loss::Square,
            }
        }
    }

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        knobs: super::Flags<Knobs>,
    }

    #[test]
    fn flags_set_the_fields_given_and_keep_the_other_defaults() {
        use clap::Parser;
        let cli = Cli::try_parse_from(["x", "--rate", "0.5", "--loss", "absolute"]).unwrap();
        let k = cli.knobs.value().unwrap();
        assert_eq!(
            k,
            Knobs {
                rate: 0.5,
                loss: Loss::Absolute,
                ..Knobs::default()
            }
        );
        let k = Cli::try_parse_from(["x", "--depth", "6"])
            .unwrap()
            .knobs
            .value();
        assert_eq!(k.unwrap().depth, Some(6));
        let k = Cli::try_parse_from(["x", "--depth", "-1"])
            .unwrap()
            .knobs
            .value();
        assert_eq!(k.unwrap().depth, None);
    }

    #[test]
    fn bad_flag_values_are_refused_naming_the_flag() {
        use clap::Parser;
        for args in [
            ["x", "--rounds", "many"],
            ["x", "--rounds", "-3"],
            ["x", "--loss", "huber"],
        ] {
            let e = Cli::try_parse_from(args).unwrap_err().to_string();
            assert!(e.contains(args[1]), "{e}");
        }
    }

    #[test]
    fn help_is_the_doc_comment_with_the_default() {
        use clap::CommandFactory;
        let help = Cli::command().render_help().to_string();
        assert!(help.contains("--rounds <ROUNDS>"), "{help}");
        assert!(help.contains("Rounds to run. [default: 100]"), "{help}");
        assert!(help.contains("Loss name. [default: square]"), "{help}");
    }
}
