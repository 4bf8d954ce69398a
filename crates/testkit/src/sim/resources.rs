//! The template's resources the seeded world lacks, created in the emulator for a scenario (its
//! SQS queues and SNS topics, the ledger table), and reading queues the way SNS subscriptions and Lambda's SQS
//! poller see them (with message attributes).

use std::collections::BTreeMap;

use aws_sdk_sqs::types::MessageSystemAttributeName;
use phoenix_core::SdkConfig;
use serde_json::Value;

use super::{SimError, sdk_fail};

/// Creates an SQS queue; returns its URL and ARN (the world's seeding does the same).
pub async fn create_queue(sdk: &SdkConfig, name: &str) -> Result<(String, String), SimError> {
    crate::world::create_queue(&aws_sdk_sqs::Client::new(sdk), name)
        .await
        .map_err(|e| SimError::Emulator(e.to_string()))
}

/// Creates an SNS topic; returns its ARN.
pub async fn create_topic(sdk: &SdkConfig, name: &str) -> Result<String, SimError> {
    crate::world::create_topic(&aws_sdk_sns::Client::new(sdk), name)
        .await
        .map_err(|e| SimError::Emulator(e.to_string()))
}

/// One message read from a queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub md5_of_body: String,
    pub sent_timestamp: String,
    /// String message attributes.
    pub attributes: BTreeMap<String, String>,
}

impl QueueMessage {
    /// The message as a Lambda SQS event record (`Records[0]`).
    pub fn lambda_record(&self, queue_arn: &str, region: &str, receive_count: u32) -> Value {
        let attributes: serde_json::Map<String, Value> = self
            .attributes
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    serde_json::json!({"stringValue": v, "stringListValues": [], "binaryListValues": [], "dataType": "String"}),
                )
            })
            .collect();
        serde_json::json!({
            "messageId": self.message_id,
            "receiptHandle": self.receipt_handle,
            "body": self.body,
            "attributes": {
                "ApproximateReceiveCount": receive_count.to_string(),
                "SentTimestamp": self.sent_timestamp,
                "SenderId": "AIDAPHOENIXSIM",
                "ApproximateFirstReceiveTimestamp": self.sent_timestamp
            },
            "messageAttributes": attributes,
            "md5OfBody": self.md5_of_body,
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": region
        })
    }
}

/// Reads and deletes everything visible in a queue now.
pub async fn drain(sdk: &SdkConfig, queue_url: &str) -> Result<Vec<QueueMessage>, SimError> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut out = Vec::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|e| sdk_fail("sqs:ReceiveMessage", e))?;
        let messages = received.messages();
        if messages.is_empty() {
            return Ok(out);
        }
        for message in messages {
            let attributes = message
                .message_attributes()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| v.string_value().map(|s| (k.clone(), s.to_owned())))
                        .collect()
                })
                .unwrap_or_default();
            let sent = message
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
                .cloned()
                .unwrap_or_default();
            out.push(QueueMessage {
                message_id: message.message_id().unwrap_or_default().to_owned(),
                receipt_handle: message.receipt_handle().unwrap_or_default().to_owned(),
                body: message.body().unwrap_or_default().to_owned(),
                md5_of_body: message.md5_of_body().unwrap_or_default().to_owned(),
                sent_timestamp: sent,
                attributes,
            });
            if let Some(handle) = message.receipt_handle() {
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|e| sdk_fail("sqs:DeleteMessage", e))?;
            }
        }
    }
}

/// A message SNS delivered to an SQS subscription (the JSON envelope), unwrapped.
#[derive(Debug, Clone, PartialEq)]
pub struct SnsMessage {
    pub message_id: String,
    pub topic_arn: String,
    pub subject: Option<String>,
    pub message: String,
    pub timestamp: String,
    pub attributes: BTreeMap<String, String>,
}

impl SnsMessage {
    /// From an SQS body holding SNS's envelope.
    pub fn from_envelope(body: &str) -> Option<SnsMessage> {
        let envelope: Value = serde_json::from_str(body).ok()?;
        let attributes = envelope["MessageAttributes"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v["Value"].as_str().map(|s| (k.clone(), s.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        Some(SnsMessage {
            message_id: envelope["MessageId"].as_str()?.to_owned(),
            topic_arn: envelope["TopicArn"].as_str().unwrap_or_default().to_owned(),
            subject: envelope["Subject"].as_str().map(str::to_owned),
            message: envelope["Message"].as_str().unwrap_or_default().to_owned(),
            timestamp: envelope["Timestamp"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            attributes,
        })
    }

    /// The message as Lambda receives it from the SNS subscription (`Records[0]`).
    pub fn lambda_record(&self) -> Value {
        let attributes: serde_json::Map<String, Value> = self
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::json!({"Type": "String", "Value": v})))
            .collect();
        serde_json::json!({
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": format!("{}:00000000-0000-0000-0000-000000000000", self.topic_arn),
            "Sns": {
                "Type": "Notification",
                "MessageId": self.message_id,
                "TopicArn": self.topic_arn,
                "Subject": self.subject,
                "Message": self.message,
                "Timestamp": self.timestamp,
                "SignatureVersion": "1",
                "Signature": "EXAMPLE",
                "SigningCertUrl": "https://sns.eu-west-1.amazonaws.com/cert.pem",
                "UnsubscribeUrl": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
                "MessageAttributes": attributes
            }
        })
    }
}

/// Makes sure the ledger table exists (`pk` string hash key, on demand, TTL on `expires_at`):
/// the seeded world creates it once the test kit has it; a world without it gets it here.
/// Returns whether it had to be created.
pub async fn ensure_ledger(sdk: &SdkConfig, table: &str) -> Result<bool, SimError> {
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    if dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .is_ok()
    {
        return Ok(false);
    }
    crate::world::create_ledger(&dynamodb, table)
        .await
        .map_err(|e| SimError::Emulator(e.to_string()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sns_envelopes_keep_their_attributes() {
        let body = r#"{"Type":"Notification","MessageId":"m-1","TopicArn":"arn:t","Subject":"S","Message":"{}","Timestamp":"2026-01-01T00:00:00Z","MessageAttributes":{"severity":{"Type":"String","Value":"error"}}}"#;
        let message = SnsMessage::from_envelope(body).expect("envelope");
        assert_eq!(
            message.attributes.get("severity").map(String::as_str),
            Some("error")
        );
        let record = message.lambda_record();
        assert_eq!(
            record["Sns"]["MessageAttributes"]["severity"]["Value"],
            "error"
        );
        assert!(SnsMessage::from_envelope("not json").is_none());
    }
}
