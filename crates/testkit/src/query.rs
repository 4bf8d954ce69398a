//! A small AWS query-protocol client for seeding what the functions never call: the default VPC's
//! subnets, a security group (EC2) and the ALB, its target group and listener (ELBv2). It saves
//! the test kit two of the SDK's largest crates (aws-sdk-ec2, aws-sdk-elasticloadbalancingv2).
//!
//! Emulator-only on purpose: moto routes a request by the signing name in the `Authorization`
//! header's credential scope and does not check signatures, so a fixed, unsigned-looking header is
//! enough. Answers are XML; [`xml_values`] reads the few fields seeding needs.

use hyper::header::{HeaderMap, HeaderName, HeaderValue};

use crate::HarnessError;
use crate::calls::{Call, CallLog, is_read_only};
use crate::emulator::{ACCOUNT_HEADER, REGION};
use crate::proxy::forward;

/// One service's query API in the emulator, in one account.
#[derive(Debug, Clone)]
pub struct QueryClient {
    /// `127.0.0.1:PORT`
    address: String,
    account: String,
    /// Signing name (`ec2`, `elasticloadbalancing`).
    service: &'static str,
    version: &'static str,
    calls: CallLog,
}

impl QueryClient {
    /// EC2 (API version 2016-11-15).
    pub fn ec2(emulator_url: &str, account: &str, calls: CallLog) -> Self {
        Self::new(emulator_url, account, "ec2", "2016-11-15", calls)
    }

    /// Elastic Load Balancing v2 (API version 2015-12-01).
    pub fn elbv2(emulator_url: &str, account: &str, calls: CallLog) -> Self {
        Self::new(
            emulator_url,
            account,
            "elasticloadbalancing",
            "2015-12-01",
            calls,
        )
    }

    fn new(
        emulator_url: &str,
        account: &str,
        service: &'static str,
        version: &'static str,
        calls: CallLog,
    ) -> Self {
        Self {
            address: emulator_url
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_owned(),
            account: account.to_owned(),
            service,
            version,
            calls,
        }
    }

    /// Calls `action` with `params` and returns the XML answer; an error answer names the action,
    /// the status and the AWS error code and message.
    pub async fn call(
        &self,
        action: &str,
        params: &[(&str, &str)],
    ) -> Result<String, HarnessError> {
        let what = format!("{}:{action}", self.service);
        let mut body = format!("Action={action}&Version={}", self.version);
        for (k, v) in params {
            body.push('&');
            body.push_str(&form_encode(k));
            body.push('=');
            body.push_str(&form_encode(v));
        }
        self.calls.record(Call {
            account: self.account.clone(),
            service: self.service.to_owned(),
            operation: action.to_owned(),
            mutating: !is_read_only(self.service, action),
        });
        let fail = |e: &dyn std::fmt::Display| HarnessError::Seed(format!("{what}: {e}"));
        let mut headers = HeaderMap::new();
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=AKIAPHOENIXTEST/20261120/{REGION}/{}/aws4_request, \
             SignedHeaders=host, Signature=0",
            self.service
        );
        for (name, value) in [
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("authorization", authorization.as_str()),
            (ACCOUNT_HEADER, self.account.as_str()),
        ] {
            let value = HeaderValue::from_str(value).map_err(|e| fail(&e))?;
            headers.insert(HeaderName::from_static(name), value);
        }
        let (status, _, bytes) = forward(
            &self.address,
            hyper::Method::POST,
            "/",
            headers,
            body.into_bytes(),
        )
        .await
        .map_err(|e| fail(&e))?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if !(200..300).contains(&status) {
            let code = xml_values(&text, "Code")
                .into_iter()
                .next()
                .unwrap_or_default();
            let message = xml_values(&text, "Message")
                .into_iter()
                .next()
                .unwrap_or_else(|| text.chars().take(200).collect());
            return Err(fail(&format!("HTTP {status} {code}: {message}")));
        }
        Ok(text)
    }
}

/// `application/x-www-form-urlencoded` value encoding (RFC 3986 unreserved characters kept).
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The text of every `<tag>…</tag>` element, in document order (XML entities decoded).
pub fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(
            after[..end]
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        );
        rest = &after[end + close.len()..];
    }
    out
}

/// The first `<tag>` value, or a seeding error naming the call.
pub fn first_xml_value(xml: &str, tag: &str, what: &str) -> Result<String, HarnessError> {
    xml_values(xml, tag)
        .into_iter()
        .next()
        .ok_or_else(|| HarnessError::Seed(format!("{what}: no <{tag}> in the answer")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_percent_encoded() {
        assert_eq!(form_encode("a b/c:d=e&f"), "a%20b%2Fc%3Ad%3De%26f");
        assert_eq!(form_encode("vpc-1234_x.y~"), "vpc-1234_x.y~");
    }

    #[test]
    fn xml_values_are_read_in_order_and_unescaped() {
        let xml = "<r><subnetSet><item><subnetId>subnet-1</subnetId></item>\
                   <item><subnetId>subnet-2</subnetId></item></subnetSet>\
                   <Message>a &amp; b &lt;c&gt;</Message></r>";
        assert_eq!(xml_values(xml, "subnetId"), ["subnet-1", "subnet-2"]);
        assert_eq!(xml_values(xml, "Message"), ["a & b <c>"]);
        assert!(xml_values(xml, "vpcId").is_empty());
        assert!(first_xml_value(xml, "vpcId", "ec2:DescribeVpcs").is_err());
        assert_eq!(xml_values("<a>unclosed", "a"), Vec::<String>::new());
    }
}
