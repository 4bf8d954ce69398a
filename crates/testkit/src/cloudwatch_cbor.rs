//! Test-only protocol translation for CloudWatch, inside the test kit's HTTP wrapper.
//!
//! The AWS SDK for Rust (aws-sdk-cloudwatch ≥ 1.100) speaks only **RPC-v2 CBOR** to CloudWatch;
//! the emulator (moto 5.2.5) serves CloudWatch's **JSON 1.0** protocol (and query), not CBOR.
//! This module turns each CBOR request into the JSON 1.0 request moto answers, and moto's JSON
//! answer back into the CBOR answer the SDK expects:
//!
//! * request: `POST /service/GraniteServiceVersion20100801/operation/<Op>` with a CBOR body
//!   (gzip-compressed when large: PutMetricData) → `POST /` with
//!   `X-Amz-Target: GraniteServiceVersion20100801.<Op>`,
//!   `Content-Type: application/x-amz-json-1.0` and the same data as JSON (CBOR is
//!   self-describing: timestamps (tag 1) → epoch seconds, byte strings → base64, NaN/±∞ → the
//!   strings JSON protocols use);
//! * answer: JSON → CBOR **typed by CloudWatch's API model** (`model/cloudwatch.json`, trimmed
//!   from the botocore model moto uses: `model/trim.py`), because JSON cannot tell a double from
//!   an integer or a timestamp from a number: doubles become CBOR floats, integers CBOR ints,
//!   timestamps tag 1, blobs byte strings. Headers: `smithy-protocol: rpc-v2-cbor`,
//!   `content-type: application/cbor`, the new `content-length`;
//! * errors: moto's `{"__type": "…#Code", "message": …}` → a CBOR map with `__type` and
//!   `message` (and the error shape's other members), keeping `x-amzn-query-error: Code;Sender`
//!   (CloudWatch is `awsQueryCompatible`: the SDK reads the query error code from that header).
//!   An answer that is not JSON (moto's HTML 500 for an operation it does not implement, e.g.
//!   DescribeAlarmHistory) becomes a CBOR `NotImplemented` error with status 501 (not retried)
//!   whose message says so.
//!
//! Never used in production code: the functions talk CBOR to real CloudWatch.

use std::sync::OnceLock;

use minicbor::data::{IanaTag, Type};
use serde_json::{Map, Value};

/// The RPC-v2 CBOR path prefix of CloudWatch operations.
const CBOR_PATH: &str = "/service/GraniteServiceVersion20100801/operation/";
/// moto's JSON 1.0 target prefix for CloudWatch.
pub const TARGET_PREFIX: &str = "GraniteServiceVersion20100801.";

/// The trimmed model (see the module docs).
fn model() -> &'static Value {
    static MODEL: OnceLock<Value> = OnceLock::new();
    MODEL.get_or_init(|| {
        serde_json::from_str(include_str!("../model/cloudwatch.json")).unwrap_or(Value::Null)
    })
}

fn shape(name: &str) -> Option<&'static Value> {
    model()["shapes"].get(name)
}

/// The CloudWatch operation named by an RPC-v2 CBOR request path, if it is one.
pub fn cbor_operation(path: &str, smithy_protocol: Option<&str>) -> Option<String> {
    if smithy_protocol != Some("rpc-v2-cbor") {
        return None;
    }
    path.strip_prefix(CBOR_PATH)
        .filter(|op| !op.is_empty() && op.chars().all(|c| c.is_ascii_alphanumeric()))
        .map(str::to_owned)
}

// ---------------------------------------------------------------- request: CBOR -> JSON

/// The JSON body for moto, from the SDK's CBOR body (possibly gzip-compressed).
pub fn request_to_json(body: &[u8], gzip: bool) -> Result<Vec<u8>, String> {
    let inflated;
    let cbor = if gzip {
        use std::io::Read;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body)
            .read_to_end(&mut out)
            .map_err(|e| format!("gzip request body: {e}"))?;
        inflated = out;
        &inflated[..]
    } else {
        body
    };
    let value = if cbor.is_empty() {
        Value::Object(Map::new())
    } else {
        let mut decoder = minicbor::Decoder::new(cbor);
        let value = cbor_to_json(&mut decoder, 0)?;
        if decoder.position() != cbor.len() {
            return Err(format!(
                "trailing bytes after the CBOR body at {}",
                decoder.position()
            ));
        }
        value
    };
    serde_json::to_vec(&value).map_err(|e| e.to_string())
}

fn cbor_to_json(d: &mut minicbor::Decoder<'_>, depth: u32) -> Result<Value, String> {
    if depth > 64 {
        return Err("CBOR nested too deeply".into());
    }
    let err = |e: minicbor::decode::Error| e.to_string();
    Ok(match d.datatype().map_err(err)? {
        Type::Bool => Value::Bool(d.bool().map_err(err)?),
        Type::Null | Type::Undefined => {
            d.skip().map_err(err)?;
            Value::Null
        }
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => Value::from(d.u64().map_err(err)?),
        Type::I8 | Type::I16 | Type::I32 | Type::I64 => Value::from(d.i64().map_err(err)?),
        Type::F16 | Type::F32 | Type::F64 => float_to_json(d.f64().map_err(err)?),
        Type::String | Type::StringIndef => {
            let mut text = String::new();
            for part in d.str_iter().map_err(err)? {
                text.push_str(part.map_err(err)?);
            }
            Value::String(text)
        }
        Type::Bytes | Type::BytesIndef => {
            let mut bytes = Vec::new();
            for part in d.bytes_iter().map_err(err)? {
                bytes.extend_from_slice(part.map_err(err)?);
            }
            Value::String(aws_smithy_types::base64::encode(&bytes))
        }
        Type::Array | Type::ArrayIndef => {
            let mut items = Vec::new();
            match d.array().map_err(err)? {
                Some(n) => {
                    for _ in 0..n {
                        items.push(cbor_to_json(d, depth + 1)?);
                    }
                }
                None => {
                    while d.datatype().map_err(err)? != Type::Break {
                        items.push(cbor_to_json(d, depth + 1)?);
                    }
                    d.skip().map_err(err)?;
                }
            }
            Value::Array(items)
        }
        Type::Map | Type::MapIndef => {
            let mut map = Map::new();
            let mut entry = |d: &mut minicbor::Decoder<'_>| -> Result<(), String> {
                let key = match cbor_to_json(d, depth + 1)? {
                    Value::String(key) => key,
                    other => other.to_string(),
                };
                let value = cbor_to_json(d, depth + 1)?;
                map.insert(key, value);
                Ok(())
            };
            match d.map().map_err(err)? {
                Some(n) => {
                    for _ in 0..n {
                        entry(d)?;
                    }
                }
                None => {
                    while d.datatype().map_err(err)? != Type::Break {
                        entry(d)?;
                    }
                    d.skip().map_err(err)?;
                }
            }
            Value::Object(map)
        }
        // Tag 1 (epoch-seconds timestamp): JSON 1.0 sends timestamps as epoch seconds too.
        Type::Tag => {
            let tag = d.tag().map_err(err)?;
            let inner = cbor_to_json(d, depth + 1)?;
            if tag != IanaTag::Timestamp.tag() {
                return Err(format!("unexpected CBOR tag {tag:?}"));
            }
            inner
        }
        other => return Err(format!("unexpected CBOR item {other}")),
    })
}

/// JSON protocols send NaN and infinities as strings.
fn float_to_json(x: f64) -> Value {
    if x.is_nan() {
        Value::from("NaN")
    } else if x == f64::INFINITY {
        Value::from("Infinity")
    } else if x == f64::NEG_INFINITY {
        Value::from("-Infinity")
    } else {
        serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}

// ---------------------------------------------------------------- answer: JSON -> CBOR

/// A CBOR item, typed from the model.
#[derive(Debug, Clone, PartialEq)]
enum Cbor {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
    Timestamp(f64),
    Array(Vec<Cbor>),
    Map(Vec<(String, Cbor)>),
}

fn encode(item: &Cbor, e: &mut minicbor::Encoder<Vec<u8>>) {
    // Writing to a Vec cannot fail.
    let _ = match item {
        Cbor::Null => e.null().map(|_| ()),
        Cbor::Bool(b) => e.bool(*b).map(|_| ()),
        Cbor::Int(i) => e.i64(*i).map(|_| ()),
        Cbor::Float(f) => e.f64(*f).map(|_| ()),
        Cbor::Text(s) => e.str(s).map(|_| ()),
        Cbor::Bytes(b) => e.bytes(b).map(|_| ()),
        Cbor::Timestamp(t) => e
            .tag(IanaTag::Timestamp)
            .and_then(|e| e.f64(*t))
            .map(|_| ()),
        Cbor::Array(items) => {
            let _ = e.array(items.len() as u64);
            for item in items {
                encode(item, e);
            }
            Ok(())
        }
        Cbor::Map(entries) => {
            let _ = e.map(entries.len() as u64);
            for (k, v) in entries {
                let _ = e.str(k);
                encode(v, e);
            }
            Ok(())
        }
    };
}

fn to_bytes(item: &Cbor) -> Vec<u8> {
    let mut e = minicbor::Encoder::new(Vec::new());
    encode(item, &mut e);
    e.into_writer()
}

/// JSON → CBOR following `shape` (a shape name of the model); without a shape, by the JSON type.
fn typed(value: &Value, shape_name: Option<&str>) -> Cbor {
    let shape = shape_name.and_then(shape);
    let kind = shape.and_then(|s| s["type"].as_str()).unwrap_or("");
    match (kind, value) {
        (_, Value::Null) => Cbor::Null,
        ("structure", Value::Object(fields)) => {
            let members = &shape.map(|s| &s["members"]).unwrap_or(&Value::Null);
            Cbor::Map(
                fields
                    .iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k.clone(), typed(v, members[k.as_str()].as_str())))
                    .collect(),
            )
        }
        ("list", Value::Array(items)) => {
            let member = shape.and_then(|s| s["member"].as_str());
            Cbor::Array(items.iter().map(|v| typed(v, member)).collect())
        }
        ("map", Value::Object(entries)) => {
            let value_shape = shape.and_then(|s| s["value"].as_str());
            Cbor::Map(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), typed(v, value_shape)))
                    .collect(),
            )
        }
        ("timestamp", v) => match v {
            Value::Number(n) => Cbor::Timestamp(n.as_f64().unwrap_or_default()),
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| Cbor::Timestamp(t.timestamp_millis() as f64 / 1000.0))
                .unwrap_or_else(|_| Cbor::Text(s.clone())),
            other => untyped(other),
        },
        ("double" | "float", v) => match v {
            Value::Number(n) => Cbor::Float(n.as_f64().unwrap_or_default()),
            Value::String(s) => match s.as_str() {
                "NaN" => Cbor::Float(f64::NAN),
                "Infinity" => Cbor::Float(f64::INFINITY),
                "-Infinity" => Cbor::Float(f64::NEG_INFINITY),
                _ => Cbor::Text(s.clone()),
            },
            other => untyped(other),
        },
        ("integer" | "long" | "short" | "byte", Value::Number(n)) => n
            .as_i64()
            .map(Cbor::Int)
            .unwrap_or_else(|| Cbor::Int(n.as_f64().unwrap_or_default() as i64)),
        ("blob", Value::String(s)) => aws_smithy_types::base64::decode(s)
            .map(Cbor::Bytes)
            .unwrap_or_else(|_| Cbor::Text(s.clone())),
        ("boolean", Value::Bool(b)) => Cbor::Bool(*b),
        (_, other) => untyped(other),
    }
}

fn untyped(value: &Value) -> Cbor {
    match value {
        Value::Null => Cbor::Null,
        Value::Bool(b) => Cbor::Bool(*b),
        Value::Number(n) => n
            .as_i64()
            .map(Cbor::Int)
            .unwrap_or_else(|| Cbor::Float(n.as_f64().unwrap_or_default())),
        Value::String(s) => Cbor::Text(s.clone()),
        Value::Array(items) => Cbor::Array(items.iter().map(untyped).collect()),
        Value::Object(fields) => Cbor::Map(
            fields
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), untyped(v)))
                .collect(),
        ),
    }
}

/// What the SDK gets back: status, the `x-amzn-query-error` header to set (errors), CBOR body.
#[derive(Debug, Clone, PartialEq)]
pub struct CborAnswer {
    pub status: u16,
    pub query_error: Option<String>,
    pub body: Vec<u8>,
}

/// Translates moto's JSON answer to `operation` (status, `x-amzn-query-error` header, body).
pub fn answer_to_cbor(
    operation: &str,
    status: u16,
    query_error: Option<&str>,
    body: &[u8],
) -> CborAnswer {
    let json: Option<Value> = if body.iter().all(u8::is_ascii_whitespace) {
        Some(Value::Object(Map::new()))
    } else {
        serde_json::from_slice(body).ok()
    };
    let success = (200..300).contains(&status);
    match (success, json) {
        (true, Some(json)) => {
            let output = model()["operations"][operation]["output"].as_str();
            CborAnswer {
                status,
                query_error: None,
                body: to_bytes(&typed(&json, output)),
            }
        }
        (false, Some(Value::Object(fields))) => {
            let code = fields
                .get("__type")
                .and_then(Value::as_str)
                .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
                .or_else(|| {
                    query_error
                        .and_then(|q| q.split(';').next())
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| format!("Http{status}"));
            let error_shape = error_shape_of(&code);
            let mut entries = vec![("__type".to_owned(), Cbor::Text(code.clone()))];
            if let Cbor::Map(rest) = typed(&Value::Object(fields), error_shape.as_deref()) {
                entries.extend(rest.into_iter().filter(|(k, _)| k != "__type"));
            }
            let side = if status >= 500 { "Receiver" } else { "Sender" };
            CborAnswer {
                status,
                query_error: Some(
                    query_error
                        .map(str::to_owned)
                        .unwrap_or_else(|| format!("{code};{side}")),
                ),
                body: to_bytes(&Cbor::Map(entries)),
            }
        }
        (_, _) => {
            // Not JSON: moto's HTML page for an unimplemented operation, or a crash.
            let text = String::from_utf8_lossy(body);
            let message = format!(
                "the emulator cannot answer CloudWatch {operation} (HTTP {status}): moto does not \
                 implement it or failed; its answer began {:?}",
                text.chars().take(120).collect::<String>()
            );
            CborAnswer {
                status: 501,
                query_error: Some("NotImplemented;Receiver".to_owned()),
                body: to_bytes(&Cbor::Map(vec![
                    ("__type".into(), Cbor::Text("NotImplemented".into())),
                    ("message".into(), Cbor::Text(message)),
                ])),
            }
        }
    }
}

/// The error shape whose query code (or name) is `code`.
fn error_shape_of(code: &str) -> Option<String> {
    let shapes = model()["shapes"].as_object()?;
    shapes
        .iter()
        .find(|(name, s)| s["code"].as_str() == Some(code) || name.as_str() == code)
        .map(|(name, _)| name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CBOR as JSON that shows the CBOR types: floats as `{"f64": x}`, tags as `{"tag1": …}`
    /// (map order does not matter in the comparison).
    fn typed_view(d: &mut minicbor::Decoder<'_>) -> Value {
        match d.datatype().expect("item") {
            Type::F16 | Type::F32 | Type::F64 => {
                serde_json::json!({"f64": d.f64().expect("float")})
            }
            Type::Tag => {
                let tag = d.tag().expect("tag");
                serde_json::json!({format!("tag{}", u64::from(tag)): typed_view(d)})
            }
            Type::Array => {
                let n = d.array().expect("array").unwrap_or_default();
                Value::Array((0..n).map(|_| typed_view(d)).collect())
            }
            Type::Map => {
                let n = d.map().expect("map").unwrap_or_default();
                Value::Object(
                    (0..n)
                        .map(|_| (d.str().expect("key").to_owned(), typed_view(d)))
                        .collect(),
                )
            }
            _ => cbor_to_json(d, 0).expect("plain item"),
        }
    }

    fn decode(bytes: &[u8]) -> Value {
        cbor_to_json(&mut minicbor::Decoder::new(bytes), 0).expect("valid CBOR")
    }

    #[test]
    fn the_model_is_the_one_moto_uses_and_names_our_operations() {
        assert!(
            model()["botocore"].is_string(),
            "model/cloudwatch.json is missing or broken"
        );
        for op in [
            "PutMetricData",
            "GetMetricData",
            "GetMetricStatistics",
            "PutMetricAlarm",
            "DescribeAlarms",
            "DescribeAlarmHistory",
            "SetAlarmState",
            "PutDashboard",
            "GetDashboard",
            "ListDashboards",
        ] {
            assert!(model()["operations"][op]["input"].is_string(), "{op}");
        }
    }

    #[test]
    fn only_cbor_cloudwatch_paths_are_translated() {
        let path = "/service/GraniteServiceVersion20100801/operation/GetMetricData";
        assert_eq!(
            cbor_operation(path, Some("rpc-v2-cbor")).as_deref(),
            Some("GetMetricData")
        );
        assert_eq!(cbor_operation(path, None), None);
        assert_eq!(cbor_operation("/", Some("rpc-v2-cbor")), None);
        assert_eq!(
            cbor_operation(
                "/service/GraniteServiceVersion20100801/operation/../x",
                Some("rpc-v2-cbor")
            ),
            None
        );
    }

    #[test]
    fn requests_keep_timestamps_blobs_maps_and_odd_floats() {
        let mut e = minicbor::Encoder::new(Vec::new());
        e.begin_map().expect("vec");
        e.str("StartTime").expect("vec");
        e.tag(IanaTag::Timestamp)
            .expect("vec")
            .f64(1_764_540_000.5)
            .expect("vec");
        e.str("Blob").expect("vec").bytes(b"hi").expect("vec");
        e.str("List").expect("vec").array(2).expect("vec");
        e.i64(-3).expect("vec").f64(f64::NAN).expect("vec");
        e.str("Ok").expect("vec").bool(true).expect("vec");
        e.end().expect("vec");
        let json: Value =
            serde_json::from_slice(&request_to_json(&e.into_writer(), false).expect("translates"))
                .expect("json");
        assert_eq!(
            json,
            serde_json::json!({"StartTime": 1_764_540_000.5, "Blob": "aGk=", "List": [-3, "NaN"], "Ok": true})
        );
        assert_eq!(request_to_json(&[], false).expect("empty"), b"{}");
        // large PutMetricData bodies arrive gzip-compressed
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &[0xa1, 0x61, b'a', 0x01]).expect("vec");
        let gz = gz.finish().expect("vec");
        assert_eq!(request_to_json(&gz, true).expect("gzip"), br#"{"a":1}"#);
        assert!(
            request_to_json(&[0xa1, 0x61, b'a', 0x01], true).is_err(),
            "not gzip"
        );
        assert!(request_to_json(&[0xa1], false).is_err(), "truncated map");
        assert!(
            request_to_json(&[0xa0, 0x00], false).is_err(),
            "trailing bytes"
        );
    }

    #[test]
    fn answers_are_typed_by_the_model() {
        let body = br#"{"MetricDataResults":[{"Id":"q","Timestamps":[1764540000],"Values":[3,4.5],"StatusCode":"Complete"}],"NextToken":"t"}"#;
        let answer = answer_to_cbor("GetMetricData", 200, None, body);
        assert_eq!(answer.status, 200);
        // Values: doubles even when moto wrote an integer; Timestamps: tag 1.
        assert_eq!(
            typed_view(&mut minicbor::Decoder::new(&answer.body)),
            serde_json::json!({
                "MetricDataResults": [{
                    "Id": "q",
                    "StatusCode": "Complete",
                    "Timestamps": [{"tag1": {"f64": 1_764_540_000.0}}],
                    "Values": [{"f64": 3.0}, {"f64": 4.5}],
                }],
                "NextToken": "t",
            })
        );
        // and an integer member stays an integer
        let stats = answer_to_cbor(
            "DescribeAlarms",
            200,
            None,
            br#"{"MetricAlarms":[{"Period":60,"Threshold":1,"ActionsEnabled":true}]}"#,
        );
        assert_eq!(
            decode(&stats.body),
            serde_json::json!({"MetricAlarms":[{"Period":60,"Threshold":1.0,"ActionsEnabled":true}]})
        );
    }

    #[test]
    fn errors_carry_the_query_code_and_message() {
        let body = br#"{"__type": "GraniteServiceVersion20100801#ResourceNotFound", "message": "Dashboard does not exist"}"#;
        let answer = answer_to_cbor("GetDashboard", 404, Some("ResourceNotFound;Sender"), body);
        assert_eq!(answer.status, 404);
        assert_eq!(
            answer.query_error.as_deref(),
            Some("ResourceNotFound;Sender")
        );
        assert_eq!(
            decode(&answer.body),
            serde_json::json!({"__type": "ResourceNotFound", "message": "Dashboard does not exist"})
        );
        // without the header, it is made from __type
        let answer = answer_to_cbor(
            "GetDashboard",
            400,
            None,
            br#"{"__type":"InvalidParameterValue","message":"x"}"#,
        );
        assert_eq!(
            answer.query_error.as_deref(),
            Some("InvalidParameterValue;Sender")
        );
        // an HTML 500 is a clear, final NotImplemented
        let answer = answer_to_cbor(
            "DescribeAlarmHistory",
            500,
            None,
            b"<!doctype html><title>500</title>",
        );
        assert_eq!(answer.status, 501);
        let json = decode(&answer.body);
        assert_eq!(json["__type"], "NotImplemented");
        assert!(
            json["message"]
                .as_str()
                .is_some_and(|m| m.contains("DescribeAlarmHistory")),
            "{json}"
        );
    }
}
