//! Random JSON for property tests: any shape, seeded with the words and keys of one function's
//! events so that random input often comes close to a real trigger (and so reaches deep into the
//! parser) without being one.

use proptest::prelude::*;
use serde_json::Value;

/// JSON values up to four levels deep: null, booleans, integers, floats, short strings and
/// `words`; objects whose keys are drawn from `keys` or are random short names.
pub fn json_value(
    words: &'static [&'static str],
    keys: &'static [&'static str],
) -> impl Strategy<Value = Value> {
    let word = proptest::sample::select(words.to_vec()).prop_map(Value::from);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,16}".prop_map(Value::from),
        word,
    ];
    let key = prop_oneof![
        proptest::sample::select(keys.to_vec()).prop_map(str::to_owned),
        "[a-zA-Z]{1,8}",
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
