//! Canary for the `aws-sdk-cloudwatch = "=1.99.0"` pin in Cargo.toml.
//!
//! From 1.100.0 the SDK speaks only CloudWatch's RPC-v2 CBOR protocol, which the emulator (moto
//! 5.2.5) does not serve, so the e2e tests would lose CloudWatch. This test sends the emulator one
//! RPC-v2 CBOR request (`ListMetrics`, empty input) exactly as the newer SDK would. While the
//! emulator refuses it, the pin stays; the day it answers 200 this test fails and says the pin
//! can go.

use phoenix_testkit::Emulator;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn the_emulator_still_needs_the_cloudwatch_query_protocol_pin() {
    let url = Emulator::shared().url().to_owned();
    let address = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let body: &[u8] = &[0xa0]; // CBOR: an empty map
    let request = format!(
        "POST /service/GraniteServiceVersion20100801/operation/ListMetrics HTTP/1.1\r\n\
         Host: {address}\r\n\
         Content-Type: application/cbor\r\n\
         Accept: application/cbor\r\n\
         smithy-protocol: rpc-v2-cbor\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=test/20261125/eu-west-1/monitoring/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("emulator reachable");
    stream.write_all(request.as_bytes()).await.expect("write");
    stream.write_all(body).await.expect("write body");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let status_line = String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(
        status_line.starts_with("HTTP/1."),
        "no HTTP answer: {status_line:?}"
    );
    assert!(
        !status_line.contains(" 200 "),
        "the emulator now answers CloudWatch RPC-v2 CBOR ({status_line}): remove the \
         aws-sdk-cloudwatch =1.99.0 pin from Cargo.toml and this test"
    );
}
