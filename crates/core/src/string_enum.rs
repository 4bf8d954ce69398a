/// Declares an enum for a string that AWS (or we) put on the wire, with one variant per known
/// value and an `Unknown(String)` arm for values we have never seen: a new stop code or alarm
/// state is a case to handle, never a deserialisation failure.
///
/// The enum gets `as_str`, `Display`, `From<&str>`, and serde as a plain string.
#[macro_export]
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version does not know.
            Unknown(String),
        }

        impl $name {
            /// The value as it appears on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Unknown(other) => other.as_str(),
                }
            }
        }

        impl ::std::convert::From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $( $wire => Self::$variant, )+
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::__serde::Serialize for $name {
            fn serialize<S: $crate::__serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> $crate::__serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <::std::borrow::Cow<'de, str> as $crate::__serde::Deserialize>::deserialize(deserializer)?;
                Ok(Self::from(text.as_ref()))
            }
        }
    };
}

#[cfg(test)]
mod tests {
    string_enum! {
        enum Colour { Red = "RED", Green = "GREEN" }
    }

    #[test]
    fn known_values_round_trip_and_unknown_values_are_kept() {
        assert_eq!(Colour::from("RED"), Colour::Red);
        assert_eq!(Colour::from("BLUE"), Colour::Unknown("BLUE".into()));
        assert_eq!(Colour::Unknown("BLUE".into()).to_string(), "BLUE");
        let parsed: Vec<Colour> = serde_json::from_str(r#"["GREEN","red"]"#).expect("strings");
        assert_eq!(parsed, vec![Colour::Green, Colour::Unknown("red".into())]);
        assert_eq!(
            serde_json::to_string(&parsed).expect("serialises"),
            r#"["GREEN","red"]"#
        );
    }
}
